//! Routing and session state: subscriptions, retained messages, the session table, outbound
//! QoS 1/2 bookkeeping and each live link's outgoing queue.
//!
//! Pure: no I/O, no channels, no tasks, never awaits. The connection tasks drive it under a
//! `std::sync::Mutex`; every call returns the [`Effects`] the I/O side carries out (wake a
//! link that has packets waiting, close a link, hold or release a publisher), and a link's
//! task takes its packets with [`Router::take`]. So every routing and queueing rule is tested
//! by calling methods and looking at what comes back (the rumqttc/rumqttd split).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use rumqttc::mqttbytes::v4::{
    Packet, PubRel, Publish, SubAck, Subscribe, SubscribeReasonCode, Unsubscribe,
};
use rumqttc::mqttbytes::QoS;
use tracing::{debug, info, warn};

use super::topic;
use super::BrokerStats;
use crate::drops::DropLog;

/// Why the router asks a link to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Another CONNECT arrived with the same client id (MQTT-3.1.4-2).
    TakenOver,
    /// `Broker::kick_client` (fault injection).
    Kicked,
}

/// What the I/O side must do after a router call.
#[must_use]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Links (connection ids) with packets waiting: their tasks must [`take`](Router::take).
    pub ready: Vec<u64>,
    /// Links to close, and why.
    pub close: Vec<(u64, CloseReason)>,
    /// Links a PUBLISH left past their high-water mark that still take packets, with how
    /// many they have taken: the publisher is held until they drain (back-pressure).
    pub congested: Vec<(u64, u64)>,
    /// A congested link drained or went away: held publishers may look again.
    pub drained: bool,
}

impl Effects {
    fn ready(&mut self, conn_id: u64) {
        if self.ready.last() != Some(&conn_id) {
            self.ready.push(conn_id);
        }
    }
}

/// A live network connection of a session, as the router sees it.
#[derive(Debug)]
struct Link {
    /// Unique per network connection, so a late cleanup from a taken-over link never tears
    /// down its successor.
    conn_id: u64,
    /// Packets for the client, in order, until its task takes them.
    out: VecDeque<Packet>,
    /// Payload bytes of the PUBLISHes in `out`.
    out_bytes: usize,
    /// Past the high-water mark: publishers of messages for it are held until it drains to
    /// the low-water mark.
    congested: bool,
    /// Packets its task has taken so far: it grows while the client reads, so a held
    /// publisher can tell a slow reader from a dead one.
    taken: u64,
    /// `taken` when a held publisher found it stalled (taking nothing for the hold time);
    /// publishers are not held for it until it takes something again.
    stalled_at: Option<u64>,
}

impl Link {
    fn new(conn_id: u64) -> Link {
        Link {
            conn_id,
            out: VecDeque::new(),
            out_bytes: 0,
            congested: false,
            taken: 0,
            stalled_at: None,
        }
    }

    fn stalled(&self) -> bool {
        self.stalled_at == Some(self.taken)
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
    /// Messages waiting for an inflight slot or for the client to come back (MQTT-3.1.2-5):
    /// QoS 1/2, and QoS 0 under `queue_qos0_messages`.
    pending: VecDeque<Publish>,
    /// Their payload bytes (`max_queued_bytes`).
    pending_bytes: usize,
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
            pending_bytes: 0,
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

    /// Everything waiting for the client: queued messages and packets not yet taken.
    fn queued(&self) -> usize {
        self.pending.len() + self.link.as_ref().map_or(0, |l| l.out.len())
    }

    /// Their payload bytes.
    fn queued_bytes(&self) -> usize {
        self.pending_bytes + self.link.as_ref().map_or(0, |l| l.out_bytes)
    }

    /// Queues a packet on the live link; false when there is none or its queue is full.
    fn push_out(&mut self, packet: Packet, limits: Limits) -> bool {
        let Some(link) = &mut self.link else {
            return false;
        };
        if link.out.len() >= limits.out_capacity() {
            return false;
        }
        if let Packet::Publish(p) = &packet {
            link.out_bytes += p.payload.len();
        }
        link.out.push_back(packet);
        true
    }
}

/// Limits for the router, Mosquitto's (mosquitto.conf(5), 2.0.11): see
/// [`BrokerConfig`](super::BrokerConfig).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum outbound QoS 1/2 messages in flight per session (`max_inflight_messages`).
    pub max_inflight: usize,
    /// Maximum messages queued per session above those in flight (`max_queued_messages`);
    /// beyond it new ones for that session are dropped. QoS 0 messages are dropped for a
    /// client with this many packets waiting to be written.
    pub max_queued: usize,
    /// The same in payload bytes (`max_queued_bytes`); 0: no maximum. Whichever limit is
    /// reached first applies.
    pub max_queued_bytes: usize,
    /// Queue QoS 0 messages for a persistent session while its client is offline, within the
    /// limits above (`queue_qos0_messages`).
    pub queue_qos0: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_inflight: 20,
            max_queued: 1000,
            max_queued_bytes: 0,
            queue_qos0: false,
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

    /// Packets a link's queue holds at most: the QoS 0 queue, the inflight window, and room
    /// for the PUBRELs and retained messages that go around the limits.
    pub fn out_capacity(&self) -> usize {
        self.max_queued + self.max_inflight + 64
    }

    /// Whether `bytes` more may wait behind `count` messages and `queued_bytes` bytes.
    fn room(&self, count: usize, queued_bytes: usize) -> bool {
        count < self.max_queued
            && (self.max_queued_bytes == 0 || queued_bytes < self.max_queued_bytes)
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
    /// conn id -> client id, for every live link.
    conns: HashMap<u64, String>,
    retained: BTreeMap<String, Publish>,
    limits: Limits,
    next_conn_id: u64,
    next_auto_id: u64,
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
    pub fn new(limits: Limits) -> Router {
        Router {
            sessions: HashMap::new(),
            conns: HashMap::new(),
            retained: BTreeMap::new(),
            limits,
            next_conn_id: 0,
            next_auto_id: 0,
            drops: Drops::default(),
            retained_bytes: 0,
            freed_since_trim: 0,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> BrokerStats {
        let mut s = self.drops.stats;
        s.retained = self.retained.len() as u64;
        s.retained_bytes = self.retained_bytes as u64;
        s
    }

    /// A fresh id for a network connection.
    pub fn new_conn_id(&mut self) -> u64 {
        self.next_conn_id += 1;
        self.next_conn_id
    }

    /// The live link `conn_id`, if the router still has it.
    fn link_mut(&mut self, conn_id: u64) -> Option<&mut Link> {
        let client_id = self.conns.get(&conn_id)?;
        let link = self.sessions.get_mut(client_id)?.link.as_mut()?;
        (link.conn_id == conn_id).then_some(link)
    }

    /// Attach the connection `conn_id` to a session after its CONNECT was accepted.
    ///
    /// An empty client id (only allowed with clean_session=1, checked by the
    /// caller, MQTT-3.1.3-8) gets a unique server-assigned id (MQTT-3.1.3-6).
    /// An existing link with the same id is closed (MQTT-3.1.4-2).
    /// clean_session=1 discards the old session (MQTT-3.1.2-6); otherwise the
    /// session resumes and unacknowledged messages are re-sent (MQTT-4.4.0-1).
    pub fn connect(&mut self, client_id: &str, clean: bool, conn_id: u64) -> (Connected, Effects) {
        let client_id = if client_id.is_empty() {
            self.auto_id()
        } else {
            client_id.to_string()
        };
        let mut fx = Effects::default();
        if let Some(old) = self.sessions.get_mut(&client_id) {
            if let Some(old_link) = old.link.take() {
                info!(client_id, "client id taken over by a new connection");
                self.conns.remove(&old_link.conn_id);
                fx.drained |= old_link.congested;
                fx.close.push((old_link.conn_id, CloseReason::TakenOver));
            }
        }
        let session_present = if clean {
            self.sessions.remove(&client_id);
            false
        } else {
            self.sessions.contains_key(&client_id)
        };
        let limits = self.limits;
        let session = self
            .sessions
            .entry(client_id.clone())
            .or_insert_with(|| Session::new(clean, conn_id));
        session.clean = clean;
        session.owner = conn_id;
        session.link = Some(Link::new(conn_id));
        self.conns.insert(conn_id, client_id.clone());
        resend_inflight(session, limits);
        pump(session, limits);
        if session.queued() > 0 {
            fx.ready(conn_id);
        }
        let connected = Connected {
            client_id,
            session_present,
        };
        (connected, fx)
    }

    fn auto_id(&mut self) -> String {
        loop {
            self.next_auto_id += 1;
            let id = format!("auto-{}", self.next_auto_id);
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    /// The connection `conn_id` of `client_id` ended. Detaches it if it
    /// still owns the session, and drops a clean session (MQTT-3.1.2-6).
    /// A session taken over meanwhile is left alone.
    pub fn disconnect(&mut self, client_id: &str, conn_id: u64) -> Effects {
        let mut fx = Effects::default();
        let Some(session) = self.sessions.get_mut(client_id) else {
            return fx;
        };
        if session.owner != conn_id {
            return fx;
        }
        if let Some(link) = session.link.take() {
            self.conns.remove(&link.conn_id);
            fx.drained = link.congested;
        }
        if session.clean {
            self.sessions.remove(client_id);
        }
        fx
    }

    /// Close the live link of `client_id`, if any (`close` is empty if there is none).
    pub fn kick(&mut self, client_id: &str) -> Effects {
        let mut fx = Effects::default();
        if let Some(link) = self.sessions.get_mut(client_id).and_then(|s| s.link.take()) {
            self.conns.remove(&link.conn_id);
            fx.drained = link.congested;
            fx.close.push((link.conn_id, CloseReason::Kicked));
        }
        fx
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
    /// `congested` in the result: the links this message left past their high-water mark;
    /// the caller holds the publisher until they drain (back-pressure).
    pub fn publish(&mut self, publish: Publish) -> Effects {
        debug_assert!(topic::valid_topic(&publish.topic));
        if publish.retain {
            self.retain(&publish);
        }
        let limits = self.limits;
        let mut fx = Effects::default();
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
            deliver(session, out, client_id, limits, &mut self.drops, &mut fx);
        }
        fx
    }

    /// Stores (or deletes, with an empty payload) the retained message of a topic.
    fn retain(&mut self, publish: &Publish) {
        if publish.payload.is_empty() {
            if let Some(old) = self.retained.remove(&publish.topic) {
                self.free_retained(&old);
            }
            return;
        }
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

    /// SUBSCRIBE: record valid filters and grant the requested QoS; refuse
    /// invalid ones with 0x80 (MQTT-3.9.3-2 allows per-filter failure).
    /// Retained messages matching each new filter are then queued to the
    /// link, after the SUBACK the caller writes first (MQTT-3.3.1-6).
    pub fn subscribe(&mut self, client_id: &str, subscribe: &Subscribe) -> (SubAck, Effects) {
        let limits = self.limits;
        let mut fx = Effects::default();
        let Some(session) = self.sessions.get_mut(client_id) else {
            let codes = vec![SubscribeReasonCode::Failure; subscribe.filters.len()];
            return (SubAck::new(subscribe.pkid, codes), fx);
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
            deliver(session, p, client_id, limits, &mut self.drops, &mut fx);
        }
        // Retained messages hold no publisher.
        fx.congested.clear();
        (SubAck::new(subscribe.pkid, codes), fx)
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
    pub fn puback(&mut self, client_id: &str, pkid: u16) -> Effects {
        self.complete(client_id, pkid, |state| {
            matches!(state, Inflight::Publish(_))
        })
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
    pub fn pubcomp(&mut self, client_id: &str, pkid: u16) -> Effects {
        self.complete(client_id, pkid, |state| matches!(state, Inflight::Rel))
    }

    fn complete(&mut self, client_id: &str, pkid: u16, expected: fn(&Inflight) -> bool) -> Effects {
        let limits = self.limits;
        let mut fx = Effects::default();
        let Some(s) = self.sessions.get_mut(client_id) else {
            return fx;
        };
        if s.inflight.get(&pkid).is_some_and(expected) {
            s.inflight.remove(&pkid);
            refill(s, limits, &mut fx);
        } else {
            debug!(client_id, pkid, "ack for unknown packet id ignored");
        }
        fx
    }

    /// The task of link `conn_id` takes up to `max` packets to write, in order. What waits
    /// behind them moves up (into flight, within the window); `ready` names the link again
    /// if more wait, and `drained` says its queue fell to the low-water mark.
    pub fn take(&mut self, conn_id: u64, max: usize) -> (Vec<Packet>, Effects) {
        let limits = self.limits;
        let mut fx = Effects::default();
        let Some(client_id) = self.conns.get(&conn_id) else {
            return (Vec::new(), fx);
        };
        let Some(session) = self.sessions.get_mut(client_id) else {
            return (Vec::new(), fx);
        };
        let Some(link) = session.link.as_mut().filter(|l| l.conn_id == conn_id) else {
            return (Vec::new(), fx);
        };
        let n = max.min(link.out.len());
        let packets: Vec<Packet> = link.out.drain(..n).collect();
        for p in &packets {
            if let Packet::Publish(p) = p {
                link.out_bytes -= p.payload.len();
            }
        }
        link.taken += n as u64;
        if link.out.is_empty() && link.out.capacity() > 64 {
            link.out.shrink_to(16);
        }
        refill(session, limits, &mut fx);
        (packets, fx)
    }

    /// For a publisher held for link `conn_id`: `None` when the link is gone, else whether it
    /// is still congested and how many packets it has taken.
    pub fn progress(&mut self, conn_id: u64) -> Option<(bool, u64)> {
        self.link_mut(conn_id).map(|l| (l.congested, l.taken))
    }

    /// A held publisher found link `conn_id` taking nothing for the hold time: nobody is held
    /// for it until it takes something again (its messages are dropped and counted instead).
    pub fn stalled(&mut self, conn_id: u64) {
        if let Some(link) = self.link_mut(conn_id) {
            link.stalled_at = Some(link.taken);
            self.drops.stats.stalled_subscribers += 1;
        }
    }

    /// Counts a publisher held for congested links.
    pub fn held(&mut self) {
        self.drops.stats.publisher_holds += 1;
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

/// Re-send what was in flight, in order, with DUP set (MQTT-4.4.0-1, MQTT-3.3.1-1); PUBRELs
/// for messages already PUBREC'd.
fn resend_inflight(session: &mut Session, limits: Limits) {
    let resend: Vec<Packet> = session
        .inflight
        .iter()
        .map(|(pkid, state)| match state {
            Inflight::Publish(p) => {
                let mut p = p.clone();
                p.dup = true;
                Packet::Publish(p)
            }
            Inflight::Rel => Packet::PubRel(PubRel::new(*pkid)),
        })
        .collect();
    for packet in resend {
        if !session.push_out(packet, limits) {
            break;
        }
    }
}

/// After the link took packets or an inflight slot came free: move what waits up, clear the
/// congestion mark once the queue is down to the low-water mark, and name the link if packets
/// wait for it.
fn refill(session: &mut Session, limits: Limits, fx: &mut Effects) {
    pump(session, limits);
    let queued = session.queued();
    if session.pending.is_empty() && session.pending.capacity() > 64 {
        session.pending.shrink_to(16);
    }
    let Some(link) = &mut session.link else {
        return;
    };
    if link.congested && queued <= limits.low_water() {
        link.congested = false;
        fx.drained = true;
    }
    if !link.out.is_empty() {
        fx.ready(link.conn_id);
    }
}

/// Move queued messages to the link while it is up and has room: QoS 1/2 ones into flight,
/// within the inflight window; QoS 0 ones (queued under `queue_qos0_messages`) as they are.
fn pump(session: &mut Session, limits: Limits) {
    while let Some(front) = session.pending.front() {
        let Some(link) = &session.link else {
            return;
        };
        if link.out.len() >= limits.out_capacity()
            || (front.qos != QoS::AtMostOnce && session.inflight.len() >= limits.max_inflight)
        {
            return;
        }
        let mut p = session.pending.pop_front().expect("front exists");
        if p.qos != QoS::AtMostOnce {
            let Some(pkid) = session.alloc_pkid() else {
                session.pending.push_front(p);
                return;
            };
            p.pkid = pkid;
            session.inflight.insert(pkid, Inflight::Publish(p.clone()));
        }
        session.pending_bytes -= p.payload.len();
        session.push_out(Packet::Publish(p), limits);
    }
}

/// Deliver one message at its final QoS to a session, the way Mosquitto 2.0 does
/// (`src/database.c`, `db__ready_for_flight`: "For QoS 0 messages the choice is either
/// 'inflight' or dropped. There is no queueing option"): QoS 0 is written unless the client
/// already has `max_queued` packets (or `max_queued_bytes` bytes) waiting, and is not stored
/// while it is offline (3.1.2.4) unless `queue_qos0_messages`; QoS 1/2 queue behind the
/// inflight window, up to `max_queued` messages and `max_queued_bytes` bytes (mosquitto.conf(5):
/// "packets will be queued until the first limit is reached"). Every drop is counted. Names
/// the link in `ready` when packets wait for it, and in `congested` when its queue is past
/// the high-water mark.
fn deliver(
    session: &mut Session,
    publish: Publish,
    client_id: &str,
    limits: Limits,
    drops: &mut Drops,
    fx: &mut Effects,
) {
    let qos = publish.qos;
    if qos == QoS::AtMostOnce && session.link.is_some() {
        let waiting = session.link.as_ref().map_or(0, |l| l.out.len());
        if !limits.room(waiting, session.queued_bytes())
            || !session.push_out(Packet::Publish(publish), limits)
        {
            drops.dropped(client_id, qos, "the client's queue is full");
        }
    } else if qos == QoS::AtMostOnce && !limits.queue_qos0 {
        // Not stored for an offline session (3.1.2.4), not counted as a drop.
        return;
    } else if !limits.room(session.pending.len(), session.pending_bytes) {
        drops.dropped(client_id, qos, "the session's queue is full");
    } else {
        session.pending_bytes += publish.payload.len();
        session.pending.push_back(publish);
        pump(session, limits);
    }
    let queued = session.queued();
    let Some(link) = &mut session.link else {
        return;
    };
    if !link.out.is_empty() {
        fx.ready(link.conn_id);
    }
    if !link.congested && queued >= limits.high_water() {
        debug!(client_id, queued, "link congested");
        link.congested = true;
    }
    if link.congested && !link.stalled() {
        fx.congested.push((link.conn_id, link.taken));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::v4::SubscribeFilter;

    fn router() -> Router {
        router_with(Limits::default())
    }

    fn router_with(limits: Limits) -> Router {
        Router::new(limits)
    }

    fn limits(max_inflight: usize, max_queued: usize) -> Limits {
        Limits {
            max_inflight,
            max_queued,
            ..Limits::default()
        }
    }

    /// Connects `id`; returns what the router said and the connection id.
    fn connect(r: &mut Router, id: &str, clean: bool) -> (Connected, u64) {
        let conn = r.new_conn_id();
        let (c, _) = r.connect(id, clean, conn);
        (c, conn)
    }

    /// A router with `limits` and one clean session `id` subscribed to `filters`; returns
    /// the router and the session's connection id.
    fn subscriber(limits: Limits, id: &str, filters: &[(&str, QoS)]) -> (Router, u64) {
        let mut r = router_with(limits);
        let (_, c) = connect(&mut r, id, true);
        let _ = r.subscribe(id, &sub(1, filters));
        (r, c)
    }

    /// `n` QoS 0 publishes of `x` to `t`.
    fn publish_x(r: &mut Router, n: usize) {
        for _ in 0..n {
            let _ = publish(r, "t", QoS::AtMostOnce, "x");
        }
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

    /// Everything waiting for link `conn`, as its task would take it.
    fn publishes(r: &mut Router, conn: u64) -> Vec<Publish> {
        let (packets, _) = r.take(conn, usize::MAX);
        packets
            .into_iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    fn publish(r: &mut Router, topic: &str, qos: QoS, payload: &str) -> Effects {
        r.publish(Publish::new(topic, qos, payload.to_string()))
    }

    #[test]
    fn delivers_at_min_of_publish_and_subscription_qos() {
        let (mut r, c) = subscriber(
            Limits::default(),
            "s",
            &[("a/1", QoS::AtLeastOnce), ("a/0", QoS::ExactlyOnce)],
        );
        let fx = publish(&mut r, "a/1", QoS::ExactlyOnce, "x");
        assert_eq!(fx.ready, vec![c], "the link is woken");
        let _ = publish(&mut r, "a/0", QoS::AtMostOnce, "y");
        let got = publishes(&mut r, c);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].qos, QoS::AtLeastOnce);
        assert_ne!(got[0].pkid, 0);
        assert_eq!(got[1].qos, QoS::AtMostOnce);
        assert_eq!(got[1].pkid, 0);
    }

    #[test]
    fn a_message_nobody_wants_wakes_nobody() {
        let (mut r, _c) = subscriber(Limits::default(), "s", &[("a", QoS::AtLeastOnce)]);
        assert_eq!(
            publish(&mut r, "b", QoS::AtLeastOnce, "x"),
            Effects::default()
        );
    }

    #[test]
    fn overlapping_subscriptions_give_one_copy_at_max_qos() {
        let (mut r, c) = subscriber(
            Limits::default(),
            "s",
            &[
                ("a/+", QoS::AtMostOnce),
                ("a/#", QoS::ExactlyOnce),
                ("a/b", QoS::AtLeastOnce),
            ],
        );
        let _ = publish(&mut r, "a/b", QoS::ExactlyOnce, "x");
        let got = publishes(&mut r, c);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].qos, QoS::ExactlyOnce);
    }

    #[test]
    fn invalid_filter_fails_only_that_filter() {
        let mut r = router();
        let _ = connect(&mut r, "s", true);
        let (ack, _) = r.subscribe(
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
        let (mut r, c) = subscriber(Limits::default(), "s", &[("t", QoS::AtMostOnce)]);
        let mut p = Publish::new("t", QoS::AtMostOnce, "v1");
        p.retain = true;
        let _ = r.publish(p);
        assert!(!publishes(&mut r, c)[0].retain);
        let (_, fx) = r.subscribe("s", &sub(2, &[("t", QoS::AtMostOnce)]));
        assert_eq!(fx.ready, vec![c]);
        let got = publishes(&mut r, c);
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
            let _ = r.publish(p);
        }
        assert_eq!(r.retained_count(), 1);
        let (_, c) = connect(&mut r, "s", true);
        let _ = r.subscribe("s", &sub(1, &[("#", QoS::AtLeastOnce)]));
        let got = publishes(&mut r, c);
        assert_eq!(&got[0].payload[..], b"b");
        let mut del = Publish::new("t", QoS::AtMostOnce, "");
        del.retain = true;
        let _ = r.publish(del);
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
        let (mut r, c) = subscriber(Limits::default(), "s", &[("t", QoS::ExactlyOnce)]);
        let _ = publish(&mut r, "t", QoS::AtLeastOnce, "1");
        let _ = publish(&mut r, "t", QoS::ExactlyOnce, "2");
        let got = publishes(&mut r, c);
        let (p1, p2) = (got[0].pkid, got[1].pkid);
        let _ = r.puback("s", p1);
        assert!(r.pubrec("s", p2));
        let _ = r.pubcomp("s", p2);
        assert!(r.sessions["s"].inflight.is_empty());
        assert!(!r.pubrec("s", p2));
    }

    #[test]
    fn inflight_window_queues_and_ack_releases() {
        let (mut r, c) = subscriber(limits(1, 10), "s", &[("t", QoS::AtLeastOnce)]);
        let _ = publish(&mut r, "t", QoS::AtLeastOnce, "1");
        let _ = publish(&mut r, "t", QoS::AtLeastOnce, "2");
        let first = publishes(&mut r, c);
        assert_eq!(first.len(), 1);
        let fx = r.puback("s", first[0].pkid);
        assert_eq!(
            fx.ready,
            vec![c],
            "the freed slot is filled and the link woken"
        );
        let second = publishes(&mut r, c);
        assert_eq!(second.len(), 1);
        assert_eq!(&second[0].payload[..], b"2");
    }

    #[test]
    fn take_hands_out_batches_in_order_and_says_when_more_wait() {
        let (mut r, c) = subscriber(Limits::default(), "s", &[("t", QoS::AtMostOnce)]);
        for i in 0..5 {
            let _ = publish(&mut r, "t", QoS::AtMostOnce, &format!("{i}"));
        }
        let (first, fx) = r.take(c, 3);
        assert_eq!(first.len(), 3);
        assert_eq!(fx.ready, vec![c], "two more wait");
        let (rest, fx) = r.take(c, 3);
        assert_eq!(rest.len(), 2);
        assert!(fx.ready.is_empty());
        let payloads: Vec<Vec<u8>> = first
            .iter()
            .chain(&rest)
            .map(|p| match p {
                Packet::Publish(p) => p.payload.to_vec(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(payloads, [b"0", b"1", b"2", b"3", b"4"]);
        let (none, _) = r.take(999, 3);
        assert!(none.is_empty(), "an unknown link takes nothing");
    }

    #[test]
    fn incoming_qos2_is_deduplicated_until_pubrel() {
        let mut r = router();
        let _ = connect(&mut r, "s", true);
        assert!(r.incoming_qos2("s", 5));
        assert!(!r.incoming_qos2("s", 5));
        r.pubrel("s", 5);
        assert!(r.incoming_qos2("s", 5));
    }

    #[test]
    fn persistent_session_queues_offline_and_resends_inflight() {
        let mut r = router();
        let (c, conn) = connect(&mut r, "p", false);
        assert!(!c.session_present);
        let _ = r.subscribe("p", &sub(1, &[("t", QoS::AtLeastOnce)]));
        let _ = publish(&mut r, "t", QoS::AtLeastOnce, "unacked");
        assert_eq!(publishes(&mut r, conn).len(), 1);
        let _ = r.disconnect("p", conn);
        let _ = publish(&mut r, "t", QoS::AtLeastOnce, "queued");
        let _ = publish(&mut r, "t", QoS::AtMostOnce, "qos0 dropped");
        let conn = r.new_conn_id();
        let (c, fx) = r.connect("p", false, conn);
        assert!(c.session_present);
        assert_eq!(fx.ready, vec![conn]);
        let got = publishes(&mut r, conn);
        assert_eq!(got.len(), 2);
        assert!(got[0].dup);
        assert_eq!(&got[0].payload[..], b"unacked");
        assert_eq!(&got[1].payload[..], b"queued");
        assert!(!got[1].dup);
        assert_eq!(
            r.stats().dropped_qos0,
            0,
            "offline QoS 0 is not stored, not a drop"
        );
    }

    /// mosquitto.conf(5) `queue_qos0_messages true`: QoS 0 messages for an offline persistent
    /// session are queued, within `max_queued_messages`, and delivered at QoS 0 on return.
    #[test]
    fn queue_qos0_messages_keeps_qos0_for_an_offline_session_within_the_limit() {
        let mut r = router_with(Limits {
            queue_qos0: true,
            ..limits(10, 2)
        });
        let (_, conn) = connect(&mut r, "p", false);
        let _ = r.subscribe("p", &sub(1, &[("t", QoS::AtLeastOnce)]));
        let _ = r.disconnect("p", conn);
        for i in 0..3 {
            let _ = publish(&mut r, "t", QoS::AtMostOnce, &format!("{i}"));
        }
        assert_eq!(r.stats().dropped_qos0, 1);
        let (_, conn) = connect(&mut r, "p", false);
        let got = publishes(&mut r, conn);
        let got: Vec<(QoS, u16, &[u8])> = got
            .iter()
            .map(|p| (p.qos, p.pkid, &p.payload[..]))
            .collect();
        assert_eq!(
            got,
            [
                (QoS::AtMostOnce, 0, &b"0"[..]),
                (QoS::AtMostOnce, 0, &b"1"[..])
            ]
        );
    }

    #[test]
    fn offline_queue_is_bounded() {
        let mut r = router_with(limits(10, 3));
        let (_, conn) = connect(&mut r, "p", false);
        let _ = r.subscribe("p", &sub(1, &[("t", QoS::AtLeastOnce)]));
        let _ = r.disconnect("p", conn);
        for _ in 0..10 {
            let _ = publish(&mut r, "t", QoS::AtLeastOnce, "x");
        }
        assert_eq!(r.sessions["p"].pending.len(), 3);
        assert_eq!(r.stats().dropped_queued, 7);
    }

    /// mosquitto.conf(5) `max_queued_bytes`: "packets will be queued until the first limit is
    /// reached"; a message is queued while fewer bytes than the limit wait, so the first one
    /// always is, whatever its size.
    #[test]
    fn max_queued_bytes_bounds_the_queue_by_payload_size() {
        let mut r = router_with(Limits {
            max_queued_bytes: 10,
            ..limits(1, 1000)
        });
        let (_, conn) = connect(&mut r, "p", false);
        let _ = r.subscribe("p", &sub(1, &[("t", QoS::AtLeastOnce)]));
        let _ = r.disconnect("p", conn);
        for payload in ["0123456789abcdef", "x", "yyyy"] {
            let _ = publish(&mut r, "t", QoS::AtLeastOnce, payload);
        }
        assert_eq!(
            r.sessions["p"].pending.len(),
            1,
            "16 bytes wait: the limit is reached"
        );
        assert_eq!(r.stats().dropped_queued, 2);
        // Online, QoS 0 counts the bytes waiting too.
        let (_, conn) = connect(&mut r, "p", false);
        let _ = r.subscribe("p", &sub(2, &[("q", QoS::AtMostOnce)]));
        let _ = publish(&mut r, "q", QoS::AtMostOnce, "dropped: 16 bytes wait");
        assert_eq!(r.stats().dropped_qos0, 1);
        assert_eq!(publishes(&mut r, conn).len(), 1);
        let _ = publish(&mut r, "q", QoS::AtMostOnce, "written");
        assert_eq!(&publishes(&mut r, conn)[0].payload[..], b"written");
    }

    #[test]
    fn clean_session_discards_previous_session() {
        let mut r = router();
        let (_, conn) = connect(&mut r, "p", false);
        let _ = r.subscribe("p", &sub(1, &[("t", QoS::AtLeastOnce)]));
        let _ = r.disconnect("p", conn);
        let (c, conn) = connect(&mut r, "p", true);
        assert!(!c.session_present);
        let _ = publish(&mut r, "t", QoS::AtLeastOnce, "x");
        assert!(publishes(&mut r, conn).is_empty());
        let _ = r.disconnect("p", conn);
        assert!(!r.sessions.contains_key("p"));
    }

    #[test]
    fn takeover_closes_old_link_and_old_cleanup_is_ignored() {
        let mut r = router();
        let (_, old) = connect(&mut r, "c", false);
        let new = r.new_conn_id();
        let (_, fx) = r.connect("c", false, new);
        assert_eq!(fx.close, vec![(old, CloseReason::TakenOver)]);
        let _ = r.disconnect("c", old);
        assert_eq!(r.sessions["c"].link.as_ref().map(|l| l.conn_id), Some(new));
    }

    #[test]
    fn kick_closes_link() {
        let mut r = router();
        let (_, c) = connect(&mut r, "c", true);
        assert_eq!(r.kick("c").close, vec![(c, CloseReason::Kicked)]);
        assert!(r.kick("c").close.is_empty());
        assert!(r.kick("nobody").close.is_empty());
    }

    #[test]
    fn full_link_queue_drops_qos0_counts_it_and_keeps_the_link() {
        let (mut r, c) = subscriber(limits(2, 4), "slow", &[("t", QoS::AtMostOnce)]);
        let mut congested = 0;
        for _ in 0..10 {
            let fx = publish(&mut r, "t", QoS::AtMostOnce, "x");
            assert!(fx.close.is_empty(), "the link must stay up");
            congested += fx.congested.len();
        }
        // Mosquitto's rule: written while fewer than max_queued wait, dropped after.
        assert_eq!(publishes(&mut r, c).len(), 4);
        assert_eq!(r.stats().dropped_qos0, 6);
        // Congested from the high-water mark (2) on.
        assert_eq!(congested, 9);
    }

    #[test]
    fn qos1_beyond_the_window_waits_then_beyond_the_queue_is_dropped() {
        let (mut r, c) = subscriber(limits(2, 3), "s", &[("t", QoS::AtLeastOnce)]);
        for i in 0..7 {
            let _ = publish(&mut r, "t", QoS::AtLeastOnce, &format!("{i}"));
        }
        // 2 in flight, 3 queued, 2 dropped and counted.
        let first = publishes(&mut r, c);
        assert_eq!(first.len(), 2);
        assert_eq!(r.stats().dropped_queued, 2);
        let mut got: Vec<_> = first.iter().map(|p| p.payload.clone()).collect();
        let mut inflight: Vec<u16> = first.iter().map(|p| p.pkid).collect();
        while let Some(pkid) = inflight.pop() {
            let _ = r.puback("s", pkid);
            for p in publishes(&mut r, c) {
                inflight.push(p.pkid);
                got.push(p.payload);
            }
        }
        let got: Vec<&[u8]> = got.iter().map(|b| &b[..]).collect();
        assert_eq!(got, [b"0", b"1", b"2", b"3", b"4"]);
    }

    #[test]
    fn a_congested_link_that_goes_away_releases_its_publishers() {
        let (mut r, c) = subscriber(limits(2, 4), "s", &[("t", QoS::AtMostOnce)]);
        publish_x(&mut r, 3);
        assert_eq!(r.progress(c), Some((true, 0)));
        assert!(r.disconnect("s", c).drained);
        assert_eq!(r.progress(c), None);
    }

    #[test]
    fn a_congested_link_is_released_when_it_drains() {
        let (mut r, c) = subscriber(limits(2, 8), "s", &[("t", QoS::AtMostOnce)]);
        for _ in 0..3 {
            assert!(publish(&mut r, "t", QoS::AtMostOnce, "x")
                .congested
                .is_empty());
        }
        let held = publish(&mut r, "t", QoS::AtMostOnce, "x");
        assert_eq!(held.congested, vec![(c, 0)]);
        // Down to 2 (the low-water mark): released, and the held publishers are told.
        let (_, fx) = r.take(c, 2);
        assert!(fx.drained);
        assert_eq!(r.progress(c), Some((false, 2)));
    }

    #[test]
    fn a_stalled_link_holds_nobody_until_it_takes_something() {
        let (mut r, c) = subscriber(limits(2, 8), "s", &[("t", QoS::AtMostOnce)]);
        publish_x(&mut r, 4);
        r.stalled(c);
        assert_eq!(r.stats().stalled_subscribers, 1);
        assert!(publish(&mut r, "t", QoS::AtMostOnce, "x")
            .congested
            .is_empty());
        let _ = r.take(c, 1);
        assert_eq!(
            publish(&mut r, "t", QoS::AtMostOnce, "x").congested,
            vec![(c, 1)],
            "reading again: it holds publishers again"
        );
    }

    #[test]
    fn empty_client_id_gets_unique_assigned_id() {
        let mut r = router();
        let (a, _) = connect(&mut r, "", true);
        let (b, _) = connect(&mut r, "", true);
        assert!(!a.client_id.is_empty());
        assert_ne!(a.client_id, b.client_id);
    }
}
