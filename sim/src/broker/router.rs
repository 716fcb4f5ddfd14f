//! Routing and session state: subscriptions, retained messages, the session
//! table and outbound QoS 1/2 bookkeeping.
//!
//! This part does no I/O and never awaits: it is driven by the connection
//! tasks under a `std::sync::Mutex` and hands packets to each live link
//! through a bounded channel with `try_send`. Keeping it synchronous keeps
//! the protocol rules testable without sockets (the rumqttc/rumqttd split).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use rumqttc::mqttbytes::v4::{
    Packet, Publish, SubAck, Subscribe, SubscribeReasonCode, Unsubscribe,
};
use rumqttc::mqttbytes::QoS;
use tokio::sync::{broadcast, mpsc, oneshot, Notify};
use tracing::{debug, info, warn};

use super::topic;
use super::{BrokerEvent, BrokerStats};
use crate::drops::DropLog;

/// Why the router asks a link to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Another CONNECT arrived with the same client id (MQTT-3.1.4-2).
    TakenOver,
    /// `Broker::kick_client` (fault injection).
    Kicked,
}

/// What a connection task and the router share about one live link.
#[derive(Debug, Default)]
pub struct LinkState {
    /// Packets the connection task has taken from its queue so far: it grows while the client
    /// reads, so a publisher held for this link can tell a slow reader from a dead one.
    pub taken: AtomicU64,
    /// The link's queue is past the high-water mark: publishers whose messages go to it are
    /// not read until it drains to the low-water mark (back-pressure, see `conn.rs`).
    pub congested: AtomicBool,
    /// `taken + 1` when a held publisher found this link stalled (taking nothing for the
    /// hold time); 0 never. Publishers are not held for it until it takes something again.
    pub stalled_at: AtomicU64,
}

/// The router's handle on one live network connection.
pub struct Link {
    /// Unique per network connection, so a late cleanup from a taken-over
    /// link never tears down its successor.
    pub conn_id: u64,
    /// Packets for the connection task to write, in order.
    pub tx: mpsc::Sender<Packet>,
    /// Fired (or dropped) to make the connection task close the link.
    pub kill: oneshot::Sender<CloseReason>,
    pub state: Arc<LinkState>,
}

impl Link {
    fn close(self, reason: CloseReason) {
        let _ = self.kill.send(reason);
    }
}

/// An outbound QoS 1/2 message not yet fully acknowledged (section 4.3).
#[derive(Debug, Clone)]
enum Inflight {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Publish(Publish),
    /// PUBREL sent, waiting for PUBCOMP.
    Rel,
}

/// Server-side session state (section 3.1.2.4): kept across network
/// connections when clean_session=0.
struct Session {
    clean: bool,
    /// `conn_id` of the connection that owns this session now.
    owner: u64,
    link: Option<Link>,
    /// filter -> granted QoS. A repeated SUBSCRIBE to the same filter
    /// replaces the entry (MQTT-3.8.4-3).
    subscriptions: HashMap<String, QoS>,
    inflight: BTreeMap<u16, Inflight>,
    /// QoS 1/2 messages waiting for an inflight slot or for the client to
    /// come back (MQTT-3.1.2-5).
    pending: VecDeque<Publish>,
    next_pkid: u16,
    /// Inbound QoS 2 packet ids seen (PUBREC sent) but not yet released:
    /// a re-sent PUBLISH with one of these ids must not be delivered again
    /// (section 4.3.3, method B).
    incoming_qos2: HashSet<u16>,
}

impl Session {
    fn new(clean: bool, owner: u64) -> Session {
        Session {
            clean,
            owner,
            link: None,
            subscriptions: HashMap::new(),
            inflight: BTreeMap::new(),
            pending: VecDeque::new(),
            next_pkid: 0,
            incoming_qos2: HashSet::new(),
        }
    }

    /// Next free packet id in 1..=65535 (MQTT-2.3.1-1: non-zero, and unused
    /// by any other unacknowledged packet of this session).
    fn alloc_pkid(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            if !self.inflight.contains_key(&self.next_pkid) {
                return Some(self.next_pkid);
            }
        }
        None
    }
}

/// Limits for the router, Mosquitto's (mosquitto.conf(5), 2.0): see
/// [`BrokerConfig`](super::BrokerConfig).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum outbound QoS 1/2 messages in flight per session (`max_inflight_messages`).
    pub max_inflight: usize,
    /// Maximum QoS 1/2 messages queued per session above those in flight
    /// (`max_queued_messages`); beyond it new ones for that session are dropped. QoS 0
    /// messages are dropped for a client with this many packets waiting to be written.
    pub max_queued: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_inflight: 20,
            max_queued: 1000,
        }
    }
}

impl Limits {
    /// A link's queue this long holds its publishers (back-pressure)...
    pub fn high_water(&self) -> usize {
        (self.max_queued / 2).max(1)
    }

    /// ... until it is down to this.
    pub fn low_water(&self) -> usize {
        self.max_queued / 4
    }

    /// The capacity of a link's packet channel: the QoS 0 queue, the inflight window, and
    /// room for the PUBRELs and retained messages that go around the limits.
    pub fn channel_capacity(&self) -> usize {
        self.max_queued + self.max_inflight + 64
    }
}

/// Result of a CONNECT accepted by the router.
#[derive(Debug)]
pub struct Connected {
    /// The client id in use (assigned if the client sent an empty one).
    pub client_id: String,
    /// CONNACK session present flag (MQTT-3.2.2-1..3).
    pub session_present: bool,
}

/// The routing core. See the module docs.
pub struct Router {
    sessions: HashMap<String, Session>,
    retained: BTreeMap<String, Publish>,
    events: broadcast::Sender<BrokerEvent>,
    limits: Limits,
    next_conn_id: u64,
    next_auto_id: u64,
    /// Woken whenever a congested link drains to its low-water mark.
    drained: Arc<Notify>,
    drops: Drops,
    /// Topic and payload bytes of the retained messages.
    retained_bytes: usize,
    freed_since_trim: usize,
}

/// Bytes of retained messages freed before the allocator is asked to return memory.
const TRIM_AFTER_FREED: usize = 4 << 20;

fn retained_size(p: &Publish) -> usize {
    p.topic.len() + p.payload.len()
}

/// Returns freed heap memory to the system (glibc's `malloc_trim`; elsewhere nothing to do).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// The broker's counters, and the rate limit of the log line about drops.
#[derive(Debug, Default)]
struct Drops {
    stats: BrokerStats,
    log: DropLog,
}

impl Drops {
    fn dropped(&mut self, client_id: &str, qos: QoS, why: &str) {
        match qos {
            QoS::AtMostOnce => self.stats.dropped_qos0 += 1,
            _ => self.stats.dropped_queued += 1,
        }
        if let Some((since, total)) = self.log.record(1) {
            warn!(
                client_id,
                ?qos,
                dropped = since,
                total,
                "{why}: message dropped (counted in modem-sim status; one line per 10 s)"
            );
        }
    }
}

impl Router {
    pub fn new(limits: Limits, events: broadcast::Sender<BrokerEvent>) -> Router {
        Router {
            sessions: HashMap::new(),
            retained: BTreeMap::new(),
            events,
            limits,
            next_conn_id: 0,
            next_auto_id: 0,
            drained: Arc::new(Notify::new()),
            drops: Drops::default(),
            retained_bytes: 0,
            freed_since_trim: 0,
        }
    }

    /// Notified whenever a congested link drains (see [`LinkState::congested`]).
    pub fn drained(&self) -> Arc<Notify> {
        self.drained.clone()
    }

    /// The counters so far.
    pub fn stats(&self) -> BrokerStats {
        let mut s = self.drops.stats;
        s.retained = self.retained.len() as u64;
        s.retained_bytes = self.retained_bytes as u64;
        s
    }

    /// Counts a publisher held for a congested link, and one given up on.
    pub fn count_hold(&mut self, stalled: bool) {
        if stalled {
            self.drops.stats.stalled_subscribers += 1;
        } else {
            self.drops.stats.publisher_holds += 1;
        }
    }

    /// The connection task of `client_id` took packets from a congested queue: move what
    /// waits into flight, and release the held publishers once the queue is short again.
    pub fn relieve(&mut self, client_id: &str) {
        let limits = self.limits;
        if let Some(s) = self.sessions.get_mut(client_id) {
            pump(s, client_id, limits);
            uncongest(s, limits, &self.drained);
        }
    }

    /// A fresh id for a network connection.
    pub fn new_conn_id(&mut self) -> u64 {
        self.next_conn_id += 1;
        self.next_conn_id
    }

    /// Attach a link to a session after its CONNECT was accepted.
    ///
    /// An empty client id (only allowed with clean_session=1, checked by the
    /// caller, MQTT-3.1.3-8) gets a unique server-assigned id (MQTT-3.1.3-6).
    /// An existing link with the same id is closed (MQTT-3.1.4-2).
    /// clean_session=1 discards the old session (MQTT-3.1.2-6); otherwise the
    /// session resumes and unacknowledged messages are re-sent (MQTT-4.4.0-1).
    pub fn connect(&mut self, client_id: &str, clean: bool, link: Link) -> Connected {
        let client_id = if client_id.is_empty() {
            loop {
                self.next_auto_id += 1;
                let id = format!("auto-{}", self.next_auto_id);
                if !self.sessions.contains_key(&id) {
                    break id;
                }
            }
        } else {
            client_id.to_string()
        };
        let conn_id = link.conn_id;

        if let Some(old) = self.sessions.get_mut(&client_id) {
            if let Some(old_link) = old.link.take() {
                info!(client_id, "client id taken over by a new connection");
                release(&old_link, &self.drained);
                old_link.close(CloseReason::TakenOver);
            }
        }

        let session_present = if clean {
            self.sessions.remove(&client_id);
            false
        } else {
            self.sessions.contains_key(&client_id)
        };
        let session = self
            .sessions
            .entry(client_id.clone())
            .or_insert_with(|| Session::new(clean, conn_id));
        session.clean = clean;
        session.owner = conn_id;
        session.link = Some(link);

        // Re-send what was in flight, in order, with DUP set (MQTT-4.4.0-1,
        // MQTT-3.3.1-1); PUBRELs for messages already PUBREC'd.
        let resend: Vec<Packet> = session
            .inflight
            .iter()
            .map(|(pkid, state)| match state {
                Inflight::Publish(p) => {
                    let mut p = p.clone();
                    p.dup = true;
                    Packet::Publish(p)
                }
                Inflight::Rel => Packet::PubRel(rumqttc::mqttbytes::v4::PubRel::new(*pkid)),
            })
            .collect();
        for packet in resend {
            if !send(session, packet) {
                break;
            }
        }
        pump(session, &client_id, self.limits);

        Connected {
            client_id,
            session_present,
        }
    }

    /// The connection `conn_id` of `client_id` ended. Detaches it if it
    /// still owns the session, and drops a clean session (MQTT-3.1.2-6).
    /// Returns false if the session had already been taken over.
    pub fn disconnect(&mut self, client_id: &str, conn_id: u64) -> bool {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return false;
        };
        if session.owner != conn_id {
            return false;
        }
        if let Some(link) = session.link.take() {
            release(&link, &self.drained);
        }
        if session.clean {
            self.sessions.remove(client_id);
        }
        true
    }

    /// Close the live link of `client_id`, if any.
    pub fn kick(&mut self, client_id: &str) -> bool {
        match self.sessions.get_mut(client_id).and_then(|s| s.link.take()) {
            Some(link) => {
                release(&link, &self.drained);
                link.close(CloseReason::Kicked);
                true
            }
            None => false,
        }
    }

    /// Route an application message (from a client or a will).
    ///
    /// Retain (MQTT-3.3.1-5, -10, -11): a retained message replaces the
    /// stored one for its topic; an empty retained payload deletes it.
    /// Each session receives one copy (even with overlapping subscriptions,
    /// at the highest granted QoS among them, 3.3.5) at
    /// min(publish QoS, subscription QoS) (MQTT-3.8.4-6 / section 4.3), with
    /// RETAIN cleared because it is a live delivery (MQTT-3.3.1-9).
    ///
    /// Returns the links this message left congested (past their high-water mark): the
    /// caller holds the publisher until they drain (back-pressure).
    pub fn publish(&mut self, publish: Publish) -> Vec<Arc<LinkState>> {
        debug_assert!(topic::valid_topic(&publish.topic));
        let _ = self.events.send(BrokerEvent::Published {
            topic: publish.topic.clone(),
            qos: publish.qos,
            retain: publish.retain,
            payload: publish.payload.clone(),
        });
        if publish.retain {
            let old = if publish.payload.is_empty() {
                self.retained.remove(&publish.topic)
            } else {
                None
            };
            if let Some(old) = old {
                self.free_retained(&old);
            } else if !publish.payload.is_empty() {
                let mut stored = publish.clone();
                stored.dup = false;
                stored.pkid = 0;
                // A copy of its own: a slice would keep the publisher's whole read buffer
                // alive for as long as the message is retained.
                stored.payload = bytes::Bytes::copy_from_slice(&publish.payload);
                self.retained_bytes += retained_size(&stored);
                if let Some(old) = self.retained.insert(publish.topic.clone(), stored) {
                    self.free_retained(&old);
                }
            }
        }
        let limits = self.limits;
        let mut congested = Vec::new();
        for (client_id, session) in self.sessions.iter_mut() {
            let granted = session
                .subscriptions
                .iter()
                .filter(|(filter, _)| topic::matches(&publish.topic, filter))
                .map(|(_, qos)| *qos)
                .reduce(max_qos);
            let Some(granted) = granted else { continue };
            let out = Publish {
                dup: false,
                qos: min_qos(publish.qos, granted),
                retain: false,
                topic: publish.topic.clone(),
                pkid: 0,
                payload: publish.payload.clone(),
            };
            if let Some(state) = deliver(session, out, client_id, limits, &mut self.drops) {
                congested.push(state);
            }
        }
        congested
    }

    /// SUBSCRIBE: record valid filters and grant the requested QoS; refuse
    /// invalid ones with 0x80 (MQTT-3.9.3-2 allows per-filter failure).
    /// Retained messages matching each new filter are then queued to the
    /// link, after the SUBACK the caller writes first (MQTT-3.3.1-6).
    pub fn subscribe(&mut self, client_id: &str, subscribe: &Subscribe) -> SubAck {
        let limits = self.limits;
        let Some(session) = self.sessions.get_mut(client_id) else {
            return SubAck::new(
                subscribe.pkid,
                vec![SubscribeReasonCode::Failure; subscribe.filters.len()],
            );
        };
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut retained = Vec::new();
        for f in &subscribe.filters {
            if !topic::valid_filter(&f.path) {
                warn!(client_id, filter = f.path, "invalid topic filter refused");
                codes.push(SubscribeReasonCode::Failure);
                continue;
            }
            session.subscriptions.insert(f.path.clone(), f.qos);
            codes.push(SubscribeReasonCode::Success(f.qos));
            for p in self.retained.values() {
                if topic::matches(&p.topic, &f.path) {
                    let mut p = p.clone();
                    p.qos = min_qos(p.qos, f.qos);
                    p.retain = true; // MQTT-3.3.1-8
                    retained.push(p);
                }
            }
        }
        for p in retained {
            deliver(session, p, client_id, limits, &mut self.drops);
        }
        SubAck::new(subscribe.pkid, codes)
    }

    /// UNSUBSCRIBE: remove the exactly matching filters (MQTT-3.10.4-1).
    pub fn unsubscribe(&mut self, client_id: &str, unsubscribe: &Unsubscribe) {
        if let Some(session) = self.sessions.get_mut(client_id) {
            for t in &unsubscribe.topics {
                session.subscriptions.remove(t);
            }
        }
    }

    /// Inbound QoS 2 PUBLISH with `pkid`: true if it is new and must be
    /// routed, false if it is a re-send awaiting PUBREL (section 4.3.3).
    pub fn incoming_qos2(&mut self, client_id: &str, pkid: u16) -> bool {
        self.sessions
            .get_mut(client_id)
            .is_some_and(|s| s.incoming_qos2.insert(pkid))
    }

    /// Inbound PUBREL: forget the packet id (MQTT-4.3.3-2).
    pub fn pubrel(&mut self, client_id: &str, pkid: u16) {
        if let Some(s) = self.sessions.get_mut(client_id) {
            s.incoming_qos2.remove(&pkid);
        }
    }

    /// PUBACK for an outbound QoS 1 message.
    pub fn puback(&mut self, client_id: &str, pkid: u16) {
        self.complete(client_id, pkid, |state| {
            matches!(state, Inflight::Publish(_))
        });
    }

    /// PUBREC for an outbound QoS 2 message: from now on only PUBREL is
    /// re-sent (MQTT-4.3.3-1). Returns true if the caller must send PUBREL.
    pub fn pubrec(&mut self, client_id: &str, pkid: u16) -> bool {
        let Some(s) = self.sessions.get_mut(client_id) else {
            return false;
        };
        match s.inflight.get_mut(&pkid) {
            Some(state @ Inflight::Publish(_)) => {
                *state = Inflight::Rel;
                true
            }
            Some(Inflight::Rel) => true,
            None => false,
        }
    }

    /// PUBCOMP: the outbound QoS 2 flow is finished.
    pub fn pubcomp(&mut self, client_id: &str, pkid: u16) {
        self.complete(client_id, pkid, |state| matches!(state, Inflight::Rel));
    }

    fn complete(&mut self, client_id: &str, pkid: u16, expected: fn(&Inflight) -> bool) {
        let limits = self.limits;
        let Some(s) = self.sessions.get_mut(client_id) else {
            return;
        };
        if s.inflight.get(&pkid).is_some_and(expected) {
            s.inflight.remove(&pkid);
            pump(s, client_id, limits);
            uncongest(s, limits, &self.drained);
        } else {
            debug!(client_id, pkid, "ack for unknown packet id ignored");
        }
    }

    /// A retained message is gone: its bytes are counted, and once many are freed the
    /// allocator is asked to give them back to the system (glibc keeps freed small blocks
    /// otherwise: 100 MB of deleted retained messages stayed in RSS).
    fn free_retained(&mut self, old: &Publish) {
        let size = retained_size(old);
        self.retained_bytes = self.retained_bytes.saturating_sub(size);
        self.freed_since_trim += size;
        if self.freed_since_trim >= TRIM_AFTER_FREED {
            self.freed_since_trim = 0;
            release_freed_memory();
        }
    }

    /// Number of retained messages.
    #[cfg(test)]
    pub fn retained_count(&self) -> usize {
        self.retained.len()
    }
}

fn min_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) <= (b as u8) {
        a
    } else {
        b
    }
}

fn max_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) >= (b as u8) {
        a
    } else {
        b
    }
}

/// Packets waiting in a link's channel.
fn channel_len(link: &Link) -> usize {
    link.tx.max_capacity() - link.tx.capacity()
}

/// Everything waiting for the client: queued QoS 1/2 messages and unwritten packets.
fn queued(session: &Session) -> usize {
    session.pending.len() + session.link.as_ref().map_or(0, channel_len)
}

/// Hand a packet to the session's link. Never disconnects: the callers keep within the
/// channel's capacity (QoS 0 is dropped first, QoS 1/2 waits in `pending`).
fn send(session: &mut Session, packet: Packet) -> bool {
    let Some(link) = &session.link else {
        return false;
    };
    match link.tx.try_send(packet) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => false,
        Err(mpsc::error::TrySendError::Closed(_)) => {
            // The connection task is gone; held publishers see the mark cleared at their
            // next check.
            link.state.congested.store(false, Ordering::Relaxed);
            session.link = None;
            false
        }
    }
}

/// Deliver one message at its final QoS to a session, the way Mosquitto 2.0 does
/// (`src/database.c`, `db__ready_for_flight`: "For QoS 0 messages the choice is either
/// 'inflight' or dropped. There is no queueing option"): QoS 0 is written unless the client
/// already has `max_queued` packets waiting, and is not stored while it is offline (3.1.2.4);
/// QoS 1/2 queue behind the inflight window, up to `max_queued` (mosquitto.conf(5),
/// `max_queued_messages`). Every drop is counted. Returns the link's state when its queue is
/// past the high-water mark.
fn deliver(
    session: &mut Session,
    publish: Publish,
    client_id: &str,
    limits: Limits,
    drops: &mut Drops,
) -> Option<Arc<LinkState>> {
    if publish.qos == QoS::AtMostOnce {
        let link = session.link.as_ref()?;
        let full = channel_len(link) >= limits.max_queued
            || (!send(session, Packet::Publish(publish)) && session.link.is_some());
        if full {
            drops.dropped(client_id, QoS::AtMostOnce, "the client's queue is full");
        }
    } else if session.pending.len() >= limits.max_queued {
        drops.dropped(client_id, publish.qos, "the session's queue is full");
    } else {
        session.pending.push_back(publish);
        pump(session, client_id, limits);
    }
    let link = session.link.as_ref()?;
    if link.state.congested.load(Ordering::Relaxed) {
        return Some(link.state.clone());
    }
    if queued(session) >= limits.high_water() {
        debug!(client_id, queued = queued(session), "link congested");
        link.state.congested.store(true, Ordering::Relaxed);
        return Some(link.state.clone());
    }
    None
}

/// A link that goes away holds no publisher any more.
fn release(link: &Link, drained: &Notify) {
    if link.state.congested.swap(false, Ordering::Relaxed) {
        drained.notify_waiters();
    }
}

/// Clears the congestion mark once the queue is down to the low-water mark, and wakes the
/// publishers held for it.
fn uncongest(session: &mut Session, limits: Limits, drained: &Notify) {
    let Some(link) = &session.link else {
        return;
    };
    if link.state.congested.load(Ordering::Relaxed) && queued(session) <= limits.low_water() {
        link.state.congested.store(false, Ordering::Relaxed);
        drained.notify_waiters();
    }
    if session.pending.is_empty() && session.pending.capacity() > 64 {
        session.pending.shrink_to(16);
    }
}

/// Move queued QoS 1/2 messages into flight while the link is up, the inflight window has
/// room and the link's channel too.
fn pump(session: &mut Session, _client_id: &str, limits: Limits) {
    while session.inflight.len() < limits.max_inflight {
        match &session.link {
            Some(link) if link.tx.capacity() > 0 => {}
            _ => return,
        }
        let Some(mut p) = session.pending.pop_front() else {
            return;
        };
        let Some(pkid) = session.alloc_pkid() else {
            session.pending.push_front(p);
            return;
        };
        p.pkid = pkid;
        session.inflight.insert(pkid, Inflight::Publish(p.clone()));
        if !send(session, Packet::Publish(p)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::v4::SubscribeFilter;
    use std::future::Future;

    struct TestLink {
        rx: mpsc::Receiver<Packet>,
        kill: oneshot::Receiver<CloseReason>,
    }

    fn router() -> Router {
        router_with(Limits::default())
    }

    fn router_with(limits: Limits) -> Router {
        let (tx, _) = broadcast::channel(16);
        Router::new(limits, tx)
    }

    fn link(r: &mut Router, cap: usize) -> (Link, TestLink) {
        let (tx, rx) = mpsc::channel(cap);
        let (ktx, krx) = oneshot::channel();
        let link = Link {
            conn_id: r.new_conn_id(),
            tx,
            kill: ktx,
            state: Arc::default(),
        };
        (link, TestLink { rx, kill: krx })
    }

    fn connect(r: &mut Router, id: &str, clean: bool) -> (Connected, TestLink, u64) {
        let (l, t) = link(r, 64);
        let conn_id = l.conn_id;
        (r.connect(id, clean, l), t, conn_id)
    }

    fn sub(pkid: u16, filters: &[(&str, QoS)]) -> Subscribe {
        Subscribe {
            pkid,
            filters: filters
                .iter()
                .map(|(f, q)| SubscribeFilter::new(f.to_string(), *q))
                .collect(),
        }
    }

    fn publishes(t: &mut TestLink) -> Vec<Publish> {
        let mut out = Vec::new();
        while let Ok(p) = t.rx.try_recv() {
            if let Packet::Publish(p) = p {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn delivers_at_min_of_publish_and_subscription_qos() {
        let mut r = router();
        let (_, mut t, _) = connect(&mut r, "s", true);
        r.subscribe(
            "s",
            &sub(1, &[("a/1", QoS::AtLeastOnce), ("a/0", QoS::ExactlyOnce)]),
        );
        r.publish(Publish::new("a/1", QoS::ExactlyOnce, "x"));
        r.publish(Publish::new("a/0", QoS::AtMostOnce, "y"));
        let got = publishes(&mut t);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].qos, QoS::AtLeastOnce);
        assert_ne!(got[0].pkid, 0);
        assert_eq!(got[1].qos, QoS::AtMostOnce);
        assert_eq!(got[1].pkid, 0);
    }

    #[test]
    fn overlapping_subscriptions_give_one_copy_at_max_qos() {
        let mut r = router();
        let (_, mut t, _) = connect(&mut r, "s", true);
        r.subscribe(
            "s",
            &sub(
                1,
                &[
                    ("a/+", QoS::AtMostOnce),
                    ("a/#", QoS::ExactlyOnce),
                    ("a/b", QoS::AtLeastOnce),
                ],
            ),
        );
        r.publish(Publish::new("a/b", QoS::ExactlyOnce, "x"));
        let got = publishes(&mut t);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].qos, QoS::ExactlyOnce);
    }

    #[test]
    fn invalid_filter_fails_only_that_filter() {
        let mut r = router();
        let (_, _t, _) = connect(&mut r, "s", true);
        let ack = r.subscribe(
            "s",
            &sub(7, &[("a/#/b", QoS::AtLeastOnce), ("ok", QoS::ExactlyOnce)]),
        );
        assert_eq!(ack.pkid, 7);
        assert_eq!(
            ack.return_codes,
            vec![
                SubscribeReasonCode::Failure,
                SubscribeReasonCode::Success(QoS::ExactlyOnce)
            ]
        );
    }

    #[test]
    fn live_delivery_clears_retain_and_retained_replay_sets_it() {
        let mut r = router();
        let (_, mut t, _) = connect(&mut r, "s", true);
        r.subscribe("s", &sub(1, &[("t", QoS::AtMostOnce)]));
        let mut p = Publish::new("t", QoS::AtMostOnce, "v1");
        p.retain = true;
        r.publish(p);
        assert!(!publishes(&mut t)[0].retain);
        r.subscribe("s", &sub(2, &[("t", QoS::AtMostOnce)]));
        let got = publishes(&mut t);
        assert_eq!(got.len(), 1);
        assert!(got[0].retain);
        assert_eq!(&got[0].payload[..], b"v1");
    }

    #[test]
    fn retained_is_replaced_and_deleted_by_empty_payload() {
        let mut r = router();
        for payload in ["a", "b"] {
            let mut p = Publish::new("t", QoS::AtLeastOnce, payload);
            p.retain = true;
            r.publish(p);
        }
        assert_eq!(r.retained_count(), 1);
        let (_, mut t, _) = connect(&mut r, "s", true);
        r.subscribe("s", &sub(1, &[("#", QoS::AtLeastOnce)]));
        let got = publishes(&mut t);
        assert_eq!(&got[0].payload[..], b"b");
        let mut del = Publish::new("t", QoS::AtMostOnce, "");
        del.retain = true;
        r.publish(del);
        assert_eq!(r.retained_count(), 0);
    }

    #[test]
    fn pkids_skip_ids_in_flight_and_wrap() {
        let mut s = Session::new(true, 1);
        s.inflight.insert(1, Inflight::Rel);
        s.inflight.insert(2, Inflight::Rel);
        assert_eq!(s.alloc_pkid(), Some(3));
        s.next_pkid = u16::MAX - 1;
        assert_eq!(s.alloc_pkid(), Some(u16::MAX));
        assert_eq!(s.alloc_pkid(), Some(3));
    }

    #[test]
    fn qos1_and_qos2_outbound_flows_complete() {
        let mut r = router();
        let (_, mut t, _) = connect(&mut r, "s", true);
        r.subscribe("s", &sub(1, &[("t", QoS::ExactlyOnce)]));
        r.publish(Publish::new("t", QoS::AtLeastOnce, "1"));
        r.publish(Publish::new("t", QoS::ExactlyOnce, "2"));
        let got = publishes(&mut t);
        let (p1, p2) = (got[0].pkid, got[1].pkid);
        r.puback("s", p1);
        assert!(r.pubrec("s", p2));
        r.pubcomp("s", p2);
        assert!(r.sessions["s"].inflight.is_empty());
        assert!(!r.pubrec("s", p2));
    }

    #[test]
    fn inflight_window_queues_and_ack_releases() {
        let mut r = router_with(Limits {
            max_inflight: 1,
            max_queued: 10,
        });
        let (_, mut t, _) = connect(&mut r, "s", true);
        r.subscribe("s", &sub(1, &[("t", QoS::AtLeastOnce)]));
        r.publish(Publish::new("t", QoS::AtLeastOnce, "1"));
        r.publish(Publish::new("t", QoS::AtLeastOnce, "2"));
        let first = publishes(&mut t);
        assert_eq!(first.len(), 1);
        r.puback("s", first[0].pkid);
        let second = publishes(&mut t);
        assert_eq!(second.len(), 1);
        assert_eq!(&second[0].payload[..], b"2");
    }

    #[test]
    fn incoming_qos2_is_deduplicated_until_pubrel() {
        let mut r = router();
        let (_, _t, _) = connect(&mut r, "s", true);
        assert!(r.incoming_qos2("s", 5));
        assert!(!r.incoming_qos2("s", 5));
        r.pubrel("s", 5);
        assert!(r.incoming_qos2("s", 5));
    }

    #[test]
    fn persistent_session_queues_offline_and_resends_inflight() {
        let mut r = router();
        let (c, mut t, conn) = connect(&mut r, "p", false);
        assert!(!c.session_present);
        r.subscribe("p", &sub(1, &[("t", QoS::AtLeastOnce)]));
        r.publish(Publish::new("t", QoS::AtLeastOnce, "unacked"));
        assert_eq!(publishes(&mut t).len(), 1);
        assert!(r.disconnect("p", conn));
        r.publish(Publish::new("t", QoS::AtLeastOnce, "queued"));
        r.publish(Publish::new("t", QoS::AtMostOnce, "qos0 dropped"));
        let (c, mut t, _) = connect(&mut r, "p", false);
        assert!(c.session_present);
        let got = publishes(&mut t);
        assert_eq!(got.len(), 2);
        assert!(got[0].dup);
        assert_eq!(&got[0].payload[..], b"unacked");
        assert_eq!(&got[1].payload[..], b"queued");
        assert!(!got[1].dup);
    }

    #[test]
    fn offline_queue_is_bounded() {
        let mut r = router_with(Limits {
            max_inflight: 10,
            max_queued: 3,
        });
        let (_, _t, conn) = connect(&mut r, "p", false);
        r.subscribe("p", &sub(1, &[("t", QoS::AtLeastOnce)]));
        r.disconnect("p", conn);
        for _ in 0..10 {
            r.publish(Publish::new("t", QoS::AtLeastOnce, "x"));
        }
        assert_eq!(r.sessions["p"].pending.len(), 3);
    }

    #[test]
    fn clean_session_discards_previous_session() {
        let mut r = router();
        let (_, _t, conn) = connect(&mut r, "p", false);
        r.subscribe("p", &sub(1, &[("t", QoS::AtLeastOnce)]));
        r.disconnect("p", conn);
        let (c, mut t, conn) = connect(&mut r, "p", true);
        assert!(!c.session_present);
        r.publish(Publish::new("t", QoS::AtLeastOnce, "x"));
        assert!(publishes(&mut t).is_empty());
        r.disconnect("p", conn);
        assert!(!r.sessions.contains_key("p"));
    }

    #[test]
    fn takeover_closes_old_link_and_old_cleanup_is_ignored() {
        let mut r = router();
        let (_, mut old, old_conn) = connect(&mut r, "c", false);
        let (_, _new, _) = connect(&mut r, "c", false);
        assert_eq!(old.kill.try_recv(), Ok(CloseReason::TakenOver));
        assert!(!r.disconnect("c", old_conn));
        assert!(r.sessions["c"].link.is_some());
    }

    #[test]
    fn kick_closes_link() {
        let mut r = router();
        let (_, mut t, _) = connect(&mut r, "c", true);
        assert!(r.kick("c"));
        assert_eq!(t.kill.try_recv(), Ok(CloseReason::Kicked));
        assert!(!r.kick("c"));
        assert!(!r.kick("nobody"));
    }

    #[test]
    fn full_link_queue_drops_qos0_counts_it_and_keeps_the_link() {
        let mut r = router_with(Limits {
            max_inflight: 2,
            max_queued: 4,
        });
        let (l, mut t) = link(&mut r, Limits::default().channel_capacity());
        r.connect("slow", true, l);
        r.subscribe("slow", &sub(1, &[("t", QoS::AtMostOnce)]));
        let mut congested = 0;
        for _ in 0..10 {
            congested += r.publish(Publish::new("t", QoS::AtMostOnce, "x")).len();
        }
        // Mosquitto's rule: written while fewer than max_queued wait, dropped after.
        assert_eq!(publishes(&mut t).len(), 4);
        assert_eq!(r.stats().dropped_qos0, 6);
        // Congested from the high-water mark (2) on.
        assert_eq!(congested, 9);
        assert!(t.kill.try_recv().is_err(), "the link must stay up");
    }

    #[test]
    fn qos1_beyond_the_window_waits_then_beyond_the_queue_is_dropped() {
        let mut r = router_with(Limits {
            max_inflight: 2,
            max_queued: 3,
        });
        let (_, mut t, _) = connect(&mut r, "s", true);
        r.subscribe("s", &sub(1, &[("t", QoS::AtLeastOnce)]));
        for i in 0..7 {
            r.publish(Publish::new("t", QoS::AtLeastOnce, format!("{i}")));
        }
        // 2 in flight, 3 queued, 2 dropped and counted.
        let first = publishes(&mut t);
        assert_eq!(first.len(), 2);
        assert_eq!(r.stats().dropped_queued, 2);
        let mut got: Vec<_> = first.iter().map(|p| p.payload.clone()).collect();
        let mut inflight: Vec<u16> = first.iter().map(|p| p.pkid).collect();
        while let Some(pkid) = inflight.pop() {
            r.puback("s", pkid);
            for p in publishes(&mut t) {
                inflight.push(p.pkid);
                got.push(p.payload);
            }
        }
        let got: Vec<&[u8]> = got.iter().map(|b| &b[..]).collect();
        assert_eq!(got, [b"0", b"1", b"2", b"3", b"4"]);
    }

    #[test]
    fn a_congested_link_that_goes_away_holds_nobody() {
        let mut r = router_with(Limits {
            max_inflight: 2,
            max_queued: 4,
        });
        let (l, _t) = link(&mut r, Limits::default().channel_capacity());
        let state = l.state.clone();
        let conn = l.conn_id;
        r.connect("s", true, l);
        r.subscribe("s", &sub(1, &[("t", QoS::AtMostOnce)]));
        for _ in 0..3 {
            r.publish(Publish::new("t", QoS::AtMostOnce, "x"));
        }
        assert!(state.congested.load(Ordering::Relaxed));
        assert!(r.disconnect("s", conn));
        assert!(!state.congested.load(Ordering::Relaxed));
    }

    #[test]
    fn a_congested_link_is_released_when_it_drains() {
        let mut r = router_with(Limits {
            max_inflight: 2,
            max_queued: 8,
        });
        let drained = r.drained();
        let (l, mut t) = link(&mut r, Limits::default().channel_capacity());
        let state = l.state.clone();
        r.connect("s", true, l);
        r.subscribe("s", &sub(1, &[("t", QoS::AtMostOnce)]));
        for _ in 0..3 {
            assert!(r
                .publish(Publish::new("t", QoS::AtMostOnce, "x"))
                .is_empty());
        }
        let held = r.publish(Publish::new("t", QoS::AtMostOnce, "x"));
        assert_eq!(held.len(), 1);
        assert!(Arc::ptr_eq(&held[0], &state));
        let woken = drained.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        // Down to 2 (the low-water mark): released, and the waiters are woken.
        t.rx.try_recv().unwrap();
        t.rx.try_recv().unwrap();
        r.relieve("s");
        assert!(!state.congested.load(Ordering::Relaxed));
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(woken.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn empty_client_id_gets_unique_assigned_id() {
        let mut r = router();
        let (a, _ta, _) = connect(&mut r, "", true);
        let (b, _tb, _) = connect(&mut r, "", true);
        assert!(!a.client_id.is_empty());
        assert_ne!(a.client_id, b.client_id);
    }
}
