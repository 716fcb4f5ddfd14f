//! Integration tests for the embedded MQTT 3.1.1 broker, over real TCP on
//! port 0, with rumqttc clients and raw codec clients. Waits use generous
//! timeouts on events; nothing asserts on elapsed time.

use std::time::Duration;

use bytes::BytesMut;
use modem_sim::broker::{Broker, BrokerConfig, BrokerEvent};
use rumqttc::mqttbytes::v4::{
    Connect, ConnectReturnCode, LastWill, Login, Packet, PubAck, PubComp, PubRec, PubRel, Publish,
    Subscribe, SubscribeFilter, SubscribeReasonCode, Unsubscribe,
};
use rumqttc::mqttbytes::QoS;
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

async fn broker() -> Broker {
    broker_with(BrokerConfig::default()).await
}

/// A broker, and its events from the start.
async fn broker_and_events() -> (Broker, broadcast::Receiver<BrokerEvent>) {
    let b = broker().await;
    let events = b.events();
    (b, events)
}

async fn broker_with(cfg: BrokerConfig) -> Broker {
    Broker::start(cfg).await.expect("broker starts")
}

/// A client speaking raw MQTT packets, to control exactly what is sent.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    async fn open(b: &Broker) -> Raw {
        let stream = TcpStream::connect(b.local_addr()).await.unwrap();
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Open and CONNECT with good credentials; asserts CONNACK 0.
    async fn connected(b: &Broker, connect: Connect) -> (Raw, bool) {
        let mut raw = Raw::open(b).await;
        raw.send(Packet::Connect(connect)).await;
        match raw.recv().await {
            Some(Packet::ConnAck(ack)) => {
                assert_eq!(ack.code, ConnectReturnCode::Success);
                (raw, ack.session_present)
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    async fn send(&mut self, p: Packet) {
        let mut out = BytesMut::new();
        p.write(&mut out, usize::MAX).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Next packet, or None once the broker closed the connection.
    async fn recv(&mut self) -> Option<Packet> {
        timeout(WAIT, async {
            loop {
                match Packet::read(&mut self.buf, usize::MAX) {
                    Ok(p) => return Some(p),
                    Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                    Err(e) => panic!("broker sent garbage: {e}"),
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("timed out waiting for a packet")
    }

    async fn recv_publish(&mut self) -> Publish {
        match self.recv().await {
            Some(Packet::Publish(p)) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Asserts the broker closes the link (skipping packets before that).
    async fn expect_closed(&mut self) {
        while let Some(p) = self.recv().await {
            if matches!(p, Packet::ConnAck(_)) {
                continue;
            }
            panic!("expected the link to close, got {p:?}");
        }
    }

    /// Opens, then sends `bytes` in two writes cut at `cut`.
    async fn sending_in_two(b: &Broker, bytes: &[u8], cut: usize) -> Raw {
        let mut raw = Raw::open(b).await;
        raw.send_bytes(&bytes[..cut]).await;
        raw.stream.flush().await.unwrap();
        raw.send_bytes(&bytes[cut..]).await;
        raw
    }

    /// A QoS 0 PUBLISH with no payload to each of `topics`.
    async fn markers(&mut self, topics: &[&str]) {
        for topic in topics {
            self.send(publish(topic, QoS::AtMostOnce, "", 0)).await;
        }
    }

    /// One SUBSCRIBE with each of `filters`; the answer.
    async fn subscribe_many(&mut self, filters: &[(&str, QoS)]) -> Option<Packet> {
        let filters = filters
            .iter()
            .map(|(f, q)| SubscribeFilter::new(f.to_string(), *q));
        self.send(Packet::Subscribe(Subscribe::new_many(filters)))
            .await;
        self.recv().await
    }

    async fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.send(Packet::Subscribe(Subscribe::new(filter, qos)))
            .await;
        match self.recv().await {
            Some(Packet::SubAck(ack)) => {
                assert_eq!(ack.return_codes, vec![SubscribeReasonCode::Success(qos)])
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }
}

/// A broker, a client `sub` subscribed to `filter` at `qos`, and a client `pub`.
async fn sub_and_pub(filter: &str, qos: QoS) -> (Broker, Raw, Raw) {
    let b = broker().await;
    let (mut sub, _) = Raw::connected(&b, connect("sub")).await;
    sub.subscribe(filter, qos).await;
    let (publisher, _) = Raw::connected(&b, connect("pub")).await;
    (b, sub, publisher)
}

/// A broker with `cfg` changed by `change`.
async fn broker_changed(change: impl FnOnce(&mut BrokerConfig)) -> Broker {
    let mut cfg = BrokerConfig::default();
    change(&mut cfg);
    broker_with(cfg).await
}

fn connect(id: &str) -> Connect {
    let mut c = Connect::new(id);
    c.keep_alive = 60;
    c.login = Some(Login::new("root", "luat123456"));
    c
}

fn with_will(mut c: Connect, topic: &str, payload: &str) -> Connect {
    c.last_will = Some(LastWill::new(topic, payload, QoS::AtLeastOnce, false));
    c
}

fn publish(topic: &str, qos: QoS, payload: &str, pkid: u16) -> Packet {
    let mut p = Publish::new(topic, qos, payload);
    p.pkid = pkid;
    Packet::Publish(p)
}

async fn wait_event(
    rx: &mut broadcast::Receiver<BrokerEvent>,
    mut pred: impl FnMut(&BrokerEvent) -> bool,
) -> BrokerEvent {
    timeout(WAIT, async {
        loop {
            match rx.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event channel: {e}"),
            }
        }
    })
    .await
    .expect("timed out waiting for a broker event")
}

fn published_on(topic: &'static str) -> impl FnMut(&BrokerEvent) -> bool {
    move |e| matches!(e, BrokerEvent::Published { topic: t, .. } if t == topic)
}

fn disconnected(id: &'static str) -> impl FnMut(&BrokerEvent) -> bool {
    move |e| matches!(e, BrokerEvent::Disconnected { client_id, .. } if client_id == id)
}

fn options(b: &Broker, id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", b.local_addr().port());
    o.set_credentials("root", "luat123456");
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// A rumqttc client whose event loop runs in a task, forwarding incoming
/// PUBLISHes. Returns after CONNACK.
async fn rumqttc_client(b: &Broker, id: &str) -> (AsyncClient, mpsc::UnboundedReceiver<Publish>) {
    let (client, mut el): (AsyncClient, EventLoop) = AsyncClient::new(options(b, id), 100);
    let (tx, rx) = mpsc::unbounded_channel();
    let (up_tx, mut up_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = el.poll().await {
            match ev {
                Event::Incoming(Packet::ConnAck(_)) => {
                    let _ = up_tx.send(());
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let _ = tx.send(p);
                }
                _ => {}
            }
        }
    });
    timeout(WAIT, up_rx.recv()).await.unwrap().unwrap();
    (client, rx)
}

#[tokio::test]
async fn port_zero_reports_the_real_port() {
    let b = broker().await;
    let addr = b.local_addr();
    assert_ne!(addr.port(), 0);
    TcpStream::connect(addr).await.expect("bound port accepts");
    b.shutdown().await;
}

async fn min_qos_case(pub_qos: QoS, sub_qos: QoS) -> QoS {
    let b = broker().await;
    let (sub, mut sub_rx) = rumqttc_client(&b, "sub").await;
    let (publisher, _pub_rx) = rumqttc_client(&b, "pub").await;
    sub.subscribe("t/min", sub_qos).await.unwrap();
    // Wait until the subscription is in place: loop publishing markers.
    let got = timeout(WAIT, async {
        loop {
            publisher
                .publish("t/min", pub_qos, false, "x")
                .await
                .unwrap();
            if let Ok(Some(p)) = timeout(Duration::from_millis(200), sub_rx.recv()).await {
                return p;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(got.topic, "t/min");
    b.shutdown().await;
    got.qos
}

#[tokio::test]
async fn qos2_publish_to_qos1_subscription_arrives_as_qos1() {
    assert_eq!(
        min_qos_case(QoS::ExactlyOnce, QoS::AtLeastOnce).await,
        QoS::AtLeastOnce
    );
}

#[tokio::test]
async fn qos0_publish_to_qos2_subscription_arrives_as_qos0() {
    assert_eq!(
        min_qos_case(QoS::AtMostOnce, QoS::ExactlyOnce).await,
        QoS::AtMostOnce
    );
}

#[tokio::test]
async fn overlapping_subscriptions_deliver_one_copy_at_max_qos() {
    let b = broker().await;
    let (mut sub, _) = Raw::connected(&b, connect("sub")).await;
    let suback = sub.subscribe_many(&[("a/+", QoS::AtMostOnce), ("a/#", QoS::AtLeastOnce)]);
    assert!(matches!(suback.await, Some(Packet::SubAck(_))));
    let (mut publisher, _) = Raw::connected(&b, connect("pub")).await;
    publisher
        .send(publish("a/b", QoS::ExactlyOnce, "one", 1))
        .await;
    publisher.send(publish("end", QoS::AtMostOnce, "", 0)).await;
    publisher
        .send(publish("a/end", QoS::AtMostOnce, "m", 0))
        .await;
    let first = sub.recv_publish().await;
    assert_eq!((first.topic.as_str(), first.qos), ("a/b", QoS::AtLeastOnce));
    // The next one must be the marker, not a second copy.
    assert_eq!(sub.recv_publish().await.topic, "a/end");
    b.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_are_refused_with_code_4() {
    let (b, mut events) = broker_and_events().await;
    let mut o = options(&b, "intruder");
    o.set_credentials("root", "wrong");
    let (_c, mut el) = AsyncClient::new(o, 10);
    let err = timeout(WAIT, el.poll()).await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            ConnectionError::ConnectionRefused(ConnectReturnCode::BadUserNamePassword)
        ),
        "{err:?}"
    );
    let e = wait_event(&mut events, |e| matches!(e, BrokerEvent::Refused { .. })).await;
    assert_eq!(
        e,
        BrokerEvent::Refused {
            client_id: "intruder".into(),
            code: ConnectReturnCode::BadUserNamePassword
        }
    );
    b.shutdown().await;
}

async fn raw_connack(b: &Broker, c: Connect) -> ConnectReturnCode {
    let mut raw = Raw::open(b).await;
    raw.send(Packet::Connect(c)).await;
    let code = match raw.recv().await {
        Some(Packet::ConnAck(ack)) => ack.code,
        other => panic!("expected CONNACK, got {other:?}"),
    };
    if code != ConnectReturnCode::Success {
        raw.expect_closed().await;
    }
    code
}

#[tokio::test]
async fn refusal_codes_follow_the_spec_and_close() {
    let b = broker().await;
    let mut c = connect("x");
    c.login = Some(Login::new("nobody", "luat123456"));
    assert_eq!(
        raw_connack(&b, c).await,
        ConnectReturnCode::BadUserNamePassword
    );
    let mut c = connect("x");
    c.login = None;
    assert_eq!(raw_connack(&b, c).await, ConnectReturnCode::NotAuthorized);
    let mut c = connect("");
    c.clean_session = false;
    assert_eq!(raw_connack(&b, c).await, ConnectReturnCode::BadClientId);
    // Empty id with a clean session is fine (server-assigned id).
    assert_eq!(
        raw_connack(&b, connect("")).await,
        ConnectReturnCode::Success
    );
    b.shutdown().await;
}

#[tokio::test]
async fn anonymous_connect_is_accepted_when_allowed() {
    let b = broker_changed(|c| c.allow_anonymous = true).await;
    let mut c = connect("anon");
    c.login = None;
    assert_eq!(raw_connack(&b, c).await, ConnectReturnCode::Success);
    b.shutdown().await;
}

#[tokio::test]
async fn protocol_level_5_is_refused_with_code_1() {
    let b = broker().await;
    let mut c = connect("v5");
    c.protocol = rumqttc::mqttbytes::Protocol::V5;
    assert_eq!(
        raw_connack(&b, c).await,
        ConnectReturnCode::RefusedProtocolVersion
    );
    b.shutdown().await;
}

#[tokio::test]
async fn packet_before_connect_closes_the_link() {
    let b = broker().await;
    let mut raw = Raw::open(&b).await;
    raw.send(Packet::PingReq).await;
    raw.expect_closed().await;
    b.shutdown().await;
}

#[tokio::test]
async fn second_connect_closes_the_link_and_publishes_will() {
    let (b, mut events) = broker_and_events().await;
    let (mut raw, _) = Raw::connected(&b, with_will(connect("twice"), "will/twice", "gone")).await;
    raw.send(Packet::Connect(connect("twice"))).await;
    raw.expect_closed().await;
    wait_event(&mut events, published_on("will/twice")).await;
    b.shutdown().await;
}

#[tokio::test]
async fn will_is_published_on_abrupt_close() {
    let b = broker().await;
    let (mut sub, _) = Raw::connected(&b, connect("watcher")).await;
    sub.subscribe("will/#", QoS::AtLeastOnce).await;
    let (raw, _) = Raw::connected(&b, with_will(connect("dev"), "will/dev", "offline")).await;
    drop(raw); // no DISCONNECT
    let p = sub.recv_publish().await;
    assert_eq!(p.topic, "will/dev");
    assert_eq!(&p.payload[..], b"offline");
    assert_eq!(p.qos, QoS::AtLeastOnce);
    b.shutdown().await;
}

#[tokio::test]
async fn retained_will_is_stored() {
    let b = broker().await;
    let mut c = connect("dev");
    c.last_will = Some(LastWill::new("will/r", "bye", QoS::AtMostOnce, true));
    let (raw, _) = Raw::connected(&b, c).await;
    let mut events = b.events();
    drop(raw);
    let e = wait_event(&mut events, published_on("will/r")).await;
    assert!(matches!(e, BrokerEvent::Published { retain: true, .. }));
    let (mut sub, _) = Raw::connected(&b, connect("late")).await;
    sub.subscribe("will/r", QoS::AtMostOnce).await;
    let p = sub.recv_publish().await;
    assert!(p.retain);
    assert_eq!(&p.payload[..], b"bye");
    b.shutdown().await;
}

#[tokio::test]
async fn no_will_after_disconnect() {
    let (b, mut events) = broker_and_events().await;
    let (mut raw, _) = Raw::connected(&b, with_will(connect("polite"), "will/polite", "x")).await;
    raw.send(Packet::Disconnect).await;
    raw.expect_closed().await;
    // Everything up to the Disconnected event: no will in between.
    let seen = timeout(WAIT, async {
        let mut seen = Vec::new();
        loop {
            let e = events.recv().await.unwrap();
            let done = matches!(&e, BrokerEvent::Disconnected { .. });
            seen.push(e);
            if done {
                return seen;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        seen.contains(&BrokerEvent::Disconnected {
            client_id: "polite".into(),
            graceful: true
        }),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, BrokerEvent::Published { .. })),
        "{seen:?}"
    );
    b.shutdown().await;
}

#[tokio::test]
async fn retained_message_follows_suback_and_empty_payload_deletes_it() {
    let b = broker().await;
    let (mut publisher, _) = Raw::connected(&b, connect("pub")).await;
    let mut retained = Publish::new("cfg/led", QoS::AtLeastOnce, "on");
    retained.pkid = 1;
    retained.retain = true;
    publisher.send(Packet::Publish(retained)).await;
    assert!(matches!(publisher.recv().await, Some(Packet::PubAck(_))));

    let (mut sub, _) = Raw::connected(&b, connect("sub1")).await;
    sub.send(Packet::Subscribe(Subscribe::new("cfg/+", QoS::ExactlyOnce)))
        .await;
    assert!(matches!(sub.recv().await, Some(Packet::SubAck(_))));
    let p = sub.recv_publish().await;
    assert!(p.retain);
    assert_eq!(p.qos, QoS::AtLeastOnce);
    assert_eq!(&p.payload[..], b"on");

    let mut delete = Publish::new("cfg/led", QoS::AtMostOnce, "");
    delete.retain = true;
    publisher.send(Packet::Publish(delete)).await;
    // Live delivery of the delete to sub1 has retain cleared (MQTT-3.3.1-9).
    let live = sub.recv_publish().await;
    assert!(!live.retain && live.payload.is_empty());

    let (mut sub2, _) = Raw::connected(&b, connect("sub2")).await;
    sub2.subscribe("cfg/#", QoS::AtMostOnce).await;
    publisher
        .send(publish("cfg/marker", QoS::AtMostOnce, "m", 0))
        .await;
    // The marker arrives first: nothing retained was replayed.
    assert_eq!(sub2.recv_publish().await.topic, "cfg/marker");
    b.shutdown().await;
}

#[tokio::test]
async fn shutdown_frees_the_port_and_closes_clients() {
    let b = broker().await;
    let addr = b.local_addr();
    let (mut raw, _) = Raw::connected(&b, connect("c")).await;
    let (_client, _rx) = rumqttc_client(&b, "r").await;
    let mut idle = Raw::open(&b).await; // no CONNECT yet
    timeout(WAIT, b.shutdown())
        .await
        .expect("shutdown finishes");
    raw.expect_closed().await;
    idle.expect_closed().await;
    assert!(TcpStream::connect(addr).await.is_err());
    // The port can be bound again.
    let again = broker_changed(|c| c.bind = addr).await;
    assert_eq!(again.local_addr(), addr);
    again.shutdown().await;
}

#[tokio::test]
async fn takeover_closes_the_old_link_and_publishes_its_will() {
    let (b, mut events) = broker_and_events().await;
    let (mut old, _) = Raw::connected(&b, with_will(connect("dup"), "will/dup", "old")).await;
    let (_new, _) = Raw::connected(&b, connect("dup")).await;
    old.expect_closed().await;
    let e = wait_event(&mut events, published_on("will/dup")).await;
    assert!(matches!(e, BrokerEvent::Published { payload, .. } if &payload[..] == b"old"));
    b.shutdown().await;
}

#[tokio::test]
async fn kick_client_closes_the_link_and_publishes_its_will() {
    let (b, mut events) = broker_and_events().await;
    let (mut raw, _) = Raw::connected(&b, with_will(connect("victim"), "will/victim", "k")).await;
    assert!(b.kick_client("victim"));
    raw.expect_closed().await;
    wait_event(&mut events, published_on("will/victim")).await;
    let e = wait_event(&mut events, disconnected("victim")).await;
    assert!(matches!(
        e,
        BrokerEvent::Disconnected {
            graceful: false,
            ..
        }
    ));
    assert!(!b.kick_client("victim"));
    b.shutdown().await;
}

#[tokio::test]
async fn connect_timeout_closes_a_silent_link() {
    let b = broker_changed(|c| c.connect_timeout = Some(Duration::from_millis(100))).await;
    let mut raw = Raw::open(&b).await;
    raw.expect_closed().await;
    b.shutdown().await;
}

#[tokio::test]
async fn set_connect_timeout_applies_to_waiting_links() {
    let b = broker_changed(|c| c.connect_timeout = None).await;
    let mut raw = Raw::open(&b).await;
    // Make sure the link is being served before changing the timeout.
    tokio::time::sleep(Duration::from_millis(50)).await;
    b.set_connect_timeout(Some(Duration::from_millis(50)));
    raw.expect_closed().await;
    b.shutdown().await;
}

#[tokio::test]
async fn keepalive_expiry_closes_and_publishes_will() {
    let (b, mut events) = broker_and_events().await;
    let mut c = with_will(connect("sleepy"), "will/sleepy", "zzz");
    c.keep_alive = 1;
    let (mut raw, _) = Raw::connected(&b, c).await;
    // Send nothing: the broker gives up after 1.5 s.
    raw.expect_closed().await;
    wait_event(&mut events, published_on("will/sleepy")).await;
    b.shutdown().await;
}

#[tokio::test]
async fn qos2_resent_publish_is_delivered_once() {
    let (b, mut sub, mut publisher) = sub_and_pub("q2/#", QoS::AtMostOnce).await;
    for dup in [false, true] {
        let mut p = Publish::new("q2/x", QoS::ExactlyOnce, "once");
        p.pkid = 7;
        p.dup = dup;
        publisher.send(Packet::Publish(p)).await;
        assert_eq!(publisher.recv().await, Some(Packet::PubRec(PubRec::new(7))));
    }
    publisher.send(Packet::PubRel(PubRel::new(7))).await;
    assert_eq!(
        publisher.recv().await,
        Some(Packet::PubComp(PubComp::new(7)))
    );
    publisher.markers(&["q2/end"]).await;
    assert_eq!(sub.recv_publish().await.topic, "q2/x");
    assert_eq!(sub.recv_publish().await.topic, "q2/end");
    b.shutdown().await;
}

#[tokio::test]
async fn outbound_qos1_and_qos2_flows_complete() {
    let (b, mut sub, mut publisher) = sub_and_pub("o/#", QoS::ExactlyOnce).await;
    publisher
        .send(publish("o/1", QoS::AtLeastOnce, "a", 1))
        .await;
    publisher
        .send(publish("o/2", QoS::ExactlyOnce, "b", 2))
        .await;

    let p1 = sub.recv_publish().await;
    assert_eq!(p1.qos, QoS::AtLeastOnce);
    assert_ne!(p1.pkid, 0);
    sub.send(Packet::PubAck(PubAck::new(p1.pkid))).await;
    let p2 = sub.recv_publish().await;
    assert_eq!(p2.qos, QoS::ExactlyOnce);
    assert_ne!(p2.pkid, p1.pkid);
    sub.send(Packet::PubRec(PubRec::new(p2.pkid))).await;
    assert_eq!(sub.recv().await, Some(Packet::PubRel(PubRel::new(p2.pkid))));
    sub.send(Packet::PubComp(PubComp::new(p2.pkid))).await;
    sub.send(Packet::PingReq).await;
    assert_eq!(sub.recv().await, Some(Packet::PingResp));
    b.shutdown().await;
}

#[tokio::test]
async fn persistent_session_gets_messages_queued_while_offline() {
    let (b, mut events) = broker_and_events().await;
    let mut c = connect("persist");
    c.clean_session = false;
    let (mut raw, present) = Raw::connected(&b, c.clone()).await;
    assert!(!present);
    raw.subscribe("p/#", QoS::AtLeastOnce).await;
    raw.send(Packet::Disconnect).await;
    raw.expect_closed().await;
    wait_event(&mut events, disconnected("persist")).await;

    let (mut publisher, _) = Raw::connected(&b, connect("pub")).await;
    publisher
        .send(publish("p/1", QoS::AtLeastOnce, "q", 1))
        .await;
    assert!(matches!(publisher.recv().await, Some(Packet::PubAck(_))));

    let (mut raw, present) = Raw::connected(&b, c.clone()).await;
    assert!(present);
    let p = raw.recv_publish().await;
    assert_eq!((p.topic.as_str(), p.qos), ("p/1", QoS::AtLeastOnce));
    raw.send(Packet::PubAck(PubAck::new(p.pkid))).await;
    raw.send(Packet::Disconnect).await;
    raw.expect_closed().await;

    // clean_session=1 discards the session.
    let (_raw, present) = Raw::connected(&b, connect("persist")).await;
    assert!(!present);
    b.shutdown().await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let (b, mut sub, mut publisher) = sub_and_pub("u/a", QoS::AtMostOnce).await;
    sub.subscribe("u/b", QoS::AtMostOnce).await;
    sub.send(Packet::Unsubscribe(Unsubscribe::new("u/a"))).await;
    assert!(matches!(sub.recv().await, Some(Packet::UnsubAck(_))));
    publisher.markers(&["u/a", "u/b"]).await;
    assert_eq!(sub.recv_publish().await.topic, "u/b");
    b.shutdown().await;
}

#[tokio::test]
async fn invalid_filter_gets_failure_and_wildcard_publish_closes() {
    let b = broker().await;
    let (mut raw, _) = Raw::connected(&b, connect("c")).await;
    let filters = [("bad/#/x", QoS::AtLeastOnce), ("good/+", QoS::ExactlyOnce)];
    match raw.subscribe_many(&filters).await {
        Some(Packet::SubAck(ack)) => assert_eq!(
            ack.return_codes,
            vec![
                SubscribeReasonCode::Failure,
                SubscribeReasonCode::Success(QoS::ExactlyOnce)
            ]
        ),
        other => panic!("{other:?}"),
    }
    raw.send(publish("a/+", QoS::AtMostOnce, "x", 0)).await;
    raw.expect_closed().await;
    b.shutdown().await;
}

#[tokio::test]
async fn dollar_topics_are_not_matched_by_a_leading_wildcard() {
    let (b, mut sub, mut publisher) = sub_and_pub("#", QoS::AtMostOnce).await;
    publisher.markers(&["$SYS/x", "plain"]).await;
    assert_eq!(sub.recv_publish().await.topic, "plain");
    b.shutdown().await;
}

#[tokio::test]
async fn oversized_packet_closes_the_link() {
    let b = broker_changed(|c| c.max_packet_size = 1024).await;
    let (mut raw, _) = Raw::connected(&b, connect("big")).await;
    let big = "x".repeat(2048);
    raw.send(publish("t", QoS::AtMostOnce, &big, 0)).await;
    raw.expect_closed().await;
    b.shutdown().await;
}

#[tokio::test]
async fn garbage_bytes_close_the_link_and_the_broker_survives() {
    use rand::Rng;
    let b = broker().await;
    let mut rng = rand::rng();
    for round in 0..200 {
        let mut raw = Raw::open(&b).await;
        if round % 2 == 1 {
            // Garbage after a valid CONNECT exercises the connected path.
            raw.send(Packet::Connect(connect(&format!("fuzz{round}"))))
                .await;
        }
        let len = rng.random_range(1..64);
        let junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        raw.send_bytes(&junk).await;
        drop(raw);
    }
    let (mut ok, _) = Raw::connected(&b, connect("still-alive")).await;
    ok.send(Packet::PingReq).await;
    assert_eq!(ok.recv().await, Some(Packet::PingResp));
    b.shutdown().await;
}

fn encode(packets: &[Packet]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for p in packets {
        p.write(&mut out, usize::MAX).unwrap();
    }
    out.to_vec()
}

/// `pub`'s CONNECT, 20 PUBLISHes (QoS 0, payloads 0 to 19) on `burst` and DISCONNECT.
fn burst_bytes() -> Vec<u8> {
    let mut packets = vec![Packet::Connect(connect("pub"))];
    let publishes = (0..20u8).map(|i| Publish::new("burst", QoS::AtMostOnce, vec![i]));
    packets.extend(publishes.map(Packet::Publish));
    packets.push(Packet::Disconnect);
    encode(&packets)
}

/// A broker and a subscriber to `burst` (QoS 0).
async fn burst_subscriber() -> (Broker, Raw) {
    let b = broker().await;
    let (mut sub, _) = Raw::connected(&b, connect("sub")).await;
    sub.subscribe("burst", QoS::AtMostOnce).await;
    (b, sub)
}

/// `both`'s CONNECT and a SUBSCRIBE, as one run of bytes.
fn connect_and_subscribe() -> Vec<u8> {
    let subscribe = Subscribe::new("x", QoS::AtLeastOnce);
    encode(&[
        Packet::Connect(connect("both")),
        Packet::Subscribe(subscribe),
    ])
}

/// [`burst_bytes`] as two writes cut at `cut`: the subscriber must get all 20.
async fn pipelined_publisher(b: &Broker, sub: &mut Raw, id: &str, bytes: &[u8], cut: usize) {
    let mut raw = Raw::sending_in_two(b, bytes, cut).await;
    // The broker answers and closes; nothing else is sent.
    while raw.recv().await.is_some() {}
    for i in 0..20u8 {
        let p = sub.recv_publish().await;
        assert_eq!(p.payload[..], [i], "{id}: message {i} (cut at {cut})");
    }
}

/// CONNECT and SUBSCRIBE in two writes cut at `cut` (all at once: the whole length): CONNACK,
/// then SUBACK at once, no later packet needed.
async fn connack_then_suback(b: &Broker, cut: usize) {
    let bytes = connect_and_subscribe();
    let mut raw = Raw::sending_in_two(b, &bytes, cut.min(bytes.len())).await;
    let connack = raw.recv().await;
    assert!(matches!(connack, Some(Packet::ConnAck(_))), "cut {cut}");
    let suback = raw.recv().await;
    assert!(matches!(suback, Some(Packet::SubAck(_))), "cut {cut}");
}

#[tokio::test]
async fn packets_in_the_same_read_as_connect_are_handled() {
    // MQTT 3.1.4: a client may send packets before it sees CONNACK.
    let (b, mut sub) = burst_subscriber().await;
    let bytes = burst_bytes();
    pipelined_publisher(&b, &mut sub, "one write", &bytes, bytes.len()).await;
    // CONNECT + SUBSCRIBE in one write.
    connack_then_suback(&b, usize::MAX).await;
    b.shutdown().await;
}

#[tokio::test]
async fn packets_split_at_every_byte_give_the_same_result() {
    let (b, mut sub) = burst_subscriber().await;
    let bytes = burst_bytes();
    for cut in 1..bytes.len() {
        pipelined_publisher(&b, &mut sub, "split", &bytes, cut).await;
    }
    // And CONNECT + SUBSCRIBE split anywhere: CONNACK then SUBACK.
    for cut in 1..connect_and_subscribe().len() {
        connack_then_suback(&b, cut).await;
    }
    assert_eq!(b.stats().dropped_qos0, 0);
    b.shutdown().await;
}

/// A pipelining publisher sends `n` messages of 1 kB at `qos` to one subscriber that reads
/// everything: nothing may be lost, the subscriber stays connected.
async fn burst_to_reading_subscriber(qos: QoS, n: usize) {
    let (b, mut events) = broker_and_events().await;
    let (mut sub, _) = Raw::connected(&b, connect("reader")).await;
    sub.subscribe("burst", qos).await;
    let (mut publisher, _) = Raw::connected(&b, connect("flood")).await;
    let payload = vec![b'p'; 1000];
    let writer = tokio::spawn(async move {
        let mut chunk = BytesMut::new();
        for i in 0..n {
            let mut p = Publish::new("burst", qos, payload.clone());
            p.pkid = (i % 60000 + 1) as u16;
            Packet::Publish(p).write(&mut chunk, usize::MAX).unwrap();
            if chunk.len() > 64 * 1024 {
                publisher.stream.write_all(&chunk).await.unwrap();
                chunk.clear();
            }
        }
        publisher.stream.write_all(&chunk).await.unwrap();
        publisher
    });
    let mut got = 0;
    while got < n {
        match sub.recv().await {
            Some(Packet::Publish(p)) => {
                assert_eq!(p.payload.len(), 1000);
                if qos == QoS::AtLeastOnce {
                    sub.send(Packet::PubAck(PubAck::new(p.pkid))).await;
                }
                got += 1;
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => panic!("the subscriber was disconnected after {got} of {n}"),
        }
    }
    let _publisher = writer.await.unwrap();
    let stats = b.stats();
    assert_eq!(
        (stats.dropped_qos0, stats.dropped_queued),
        (0, 0),
        "{stats:?}"
    );
    assert!(
        !std::iter::from_fn(|| events.try_recv().ok())
            .any(|e| matches!(e, BrokerEvent::Disconnected { .. })),
        "a link went down"
    );
    b.shutdown().await;
}

#[tokio::test]
async fn a_burst_to_a_reading_qos0_subscriber_loses_nothing() {
    burst_to_reading_subscriber(QoS::AtMostOnce, 50_000).await;
}

#[tokio::test]
async fn a_burst_to_a_reading_qos1_subscriber_loses_nothing() {
    burst_to_reading_subscriber(QoS::AtLeastOnce, 50_000).await;
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_kept_and_its_drops_counted() {
    // Mosquitto's rule for QoS 0 (max_queued_messages packets waiting: drop), and a held
    // publisher let go once the subscriber is found stalled.
    let b = broker_changed(|c| {
        c.max_queued = 50;
        c.publisher_hold = Duration::from_millis(200);
    })
    .await;
    let mut events = b.events();
    let (mut slow, _) = Raw::connected(&b, connect("slow")).await;
    slow.subscribe("flood", QoS::AtMostOnce).await;
    // `slow` does not read until the flood is over.
    let (mut publisher, _) = Raw::connected(&b, connect("pub")).await;
    let payload = "y".repeat(60 * 1024);
    for _ in 0..400 {
        publisher
            .send(publish("flood", QoS::AtMostOnce, &payload, 0))
            .await;
    }
    // The publisher went through: it is read again and answers.
    publisher.send(Packet::PingReq).await;
    assert_eq!(publisher.recv().await, Some(Packet::PingResp));
    let stats = b.stats();
    assert!(stats.dropped_qos0 > 0, "{stats:?}");
    assert!(stats.stalled_subscribers >= 1, "{stats:?}");
    // The slow subscriber is still connected, and gets every message that was not dropped.
    slow.send(Packet::PingReq).await;
    let (mut received, mut pong) = (0u64, false);
    while received + b.stats().dropped_qos0 < 400 || !pong {
        match slow.recv().await {
            Some(Packet::Publish(_)) => received += 1,
            Some(Packet::PingResp) => pong = true,
            other => panic!("unexpected {other:?} after {received}"),
        }
    }
    assert_eq!(received + b.stats().dropped_qos0, 400, "{:?}", b.stats());
    assert!(
        !std::iter::from_fn(|| events.try_recv().ok())
            .any(|e| matches!(e, BrokerEvent::Disconnected { .. })),
        "a link went down"
    );
    b.shutdown().await;
}
