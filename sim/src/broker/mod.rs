//! Embedded, in-process MQTT 3.1.1 broker.
//!
//! Why our own instead of rumqttd/rmqtt: the simulated modems must see what a
//! real server does (QoS downgraded to min(publish, subscription), CONNACK
//! refusal codes instead of a bare close), tests need port-0 binding with
//! bound-port discovery and a clean `shutdown`, and the simulator needs
//! broker-side fault hooks (`set_connect_timeout`, `kick_client`).
//!
//! Layout, the rumqttc way:
//! - [`topic`]: topic name / filter validation and matching (section 4.7);
//! - `router`: pure session, routing and queueing state: no I/O, no channels; each call
//!   returns what to do (`Effects`), and each link's packets wait in it until taken;
//! - `hub`: carries out those effects (wake a link, close it, release held publishers);
//! - `conn`: one task per link, framing with `rumqttc::mqttbytes::v4`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::mqttbytes::v4::ConnectReturnCode;
use rumqttc::mqttbytes::QoS;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};
use tracing::{info, warn};

mod conn;
mod hub;
mod router;
mod tls;
pub mod topic;

use hub::Hub;
use router::{Limits, Router};

/// Accepts connections on `listener` until `shutdown` changes and hands each (`TCP_NODELAY`
/// set) to `take`. An accept error (EMFILE, say) backs off instead of spinning; `what` names
/// the listener in its log line.
async fn accept_until(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    what: &str,
    mut take: impl FnMut(tokio::net::TcpStream, SocketAddr),
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            res = listener.accept() => match res {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    take(stream, peer);
                }
                Err(e) => {
                    warn!(error = %e, "{what} accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Broker settings. Construct with `..Default::default()`.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Listen address; port 0 picks a free port (see [`Broker::local_addr`]).
    pub bind: SocketAddr,
    /// Accepted username/password pairs.
    pub accounts: Vec<(String, String)>,
    /// Accept a CONNECT without credentials.
    pub allow_anonymous: bool,
    /// Close a link that sends no CONNECT within this time (section 3.1:
    /// "a reasonable amount of time"). `None` waits forever.
    pub connect_timeout: Option<Duration>,
    /// Largest accepted packet remaining length; larger ones close the link.
    pub max_packet_size: usize,
    /// Outbound QoS 1/2 messages in flight per session: Mosquitto's
    /// `max_inflight_messages` (mosquitto.conf(5), default 20).
    pub max_inflight: usize,
    /// Mosquitto's `max_queued_messages` (mosquitto.conf(5), default 1000): QoS 1/2
    /// messages kept per session above those in flight (while offline too); more are dropped
    /// and counted, after the publisher had its PUBACK. QoS 0 messages are written unless the
    /// client already has this many packets waiting, and dropped (counted) if it has, as
    /// Mosquitto 2.0 does (`db__ready_for_flight`); they are not kept for offline sessions.
    /// A link nothing is ever dropped for is never disconnected for being slow.
    pub max_queued: usize,
    /// Mosquitto's `max_queued_bytes` (mosquitto.conf(5), default 0: no maximum): the same
    /// limit in payload bytes; "if both max_queued_messages and max_queued_bytes are
    /// specified, packets will be queued until the first limit is reached". A message is
    /// queued while fewer bytes wait, so one larger than the limit still goes alone.
    pub max_queued_bytes: usize,
    /// Mosquitto's `queue_qos0_messages` (mosquitto.conf(5), default false): QoS 0 messages
    /// for a persistent session whose client is offline are queued too, within the limits
    /// above ("a non-standard option": MQTT 3.1.1 keeps only QoS 1 and 2 for them).
    pub queue_qos0_messages: bool,
    /// Back-pressure (ours; Mosquitto has none): a publisher whose message leaves a
    /// subscriber's queue more than half full is not read until that queue is down to a
    /// quarter, so a burst to a client that reads loses nothing. A subscriber that takes
    /// nothing from its queue for this long holds nobody (drops are counted instead). `ZERO`:
    /// no back-pressure, Mosquitto's behaviour.
    pub publisher_hold: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            accounts: vec![("root".into(), "luat123456".into())],
            allow_anonymous: false,
            connect_timeout: Some(Duration::from_secs(10)),
            max_packet_size: 1024 * 1024,
            max_inflight: 20,
            max_queued: 1000,
            max_queued_bytes: 0,
            queue_qos0_messages: false,
            publisher_hold: Duration::from_secs(5),
        }
    }
}

/// What happened inside the broker, for tests and the simulator's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerEvent {
    /// CONNECT accepted (CONNACK 0 queued).
    Connected { client_id: String },
    /// A connected link ended; `graceful` means it sent DISCONNECT.
    Disconnected { client_id: String, graceful: bool },
    /// An application message entered the router (client PUBLISH or will).
    /// `qos`/`retain` are as published, before per-subscriber downgrade.
    Published {
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Bytes,
    },
    /// CONNECT refused with a CONNACK return code.
    Refused {
        client_id: String,
        code: ConnectReturnCode,
    },
}

/// The broker's counters since it started (`modem-sim status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrokerStats {
    /// QoS 0 messages dropped for a client that had `max_queued` packets waiting.
    pub dropped_qos0: u64,
    /// QoS 1/2 messages dropped for a session that had `max_queued` messages queued.
    pub dropped_queued: u64,
    /// Times a publisher was held (not read) because a subscriber's queue was past half full.
    pub publisher_holds: u64,
    /// Holds given up because the subscriber took nothing from its queue for
    /// `publisher_hold`.
    pub stalled_subscribers: u64,
    /// Retained messages stored now.
    pub retained: u64,
    /// Their topic and payload bytes.
    pub retained_bytes: u64,
}

/// One run of the broker: its listener, router and tasks. A restart replaces it.
pub(crate) struct Inner {
    accounts: Vec<(String, String)>,
    allow_anonymous: bool,
    max_packet_size: usize,
    publisher_hold: Duration,
    /// Woken when a congested link drains (the hub's).
    drained: Arc<tokio::sync::Notify>,
    local_addr: SocketAddr,
    /// The router and the links' signals.
    hub: Mutex<Hub>,
    events: broadcast::Sender<BrokerEvent>,
    connect_timeout: watch::Sender<Option<Duration>>,
    shutdown: watch::Sender<bool>,
    /// Every spawned task holds a clone; `stop` drops this one and
    /// waits until `tasks_done` reports that all clones are gone.
    task_guard: Mutex<Option<mpsc::Sender<()>>>,
    tasks_done: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Inner {
    /// Starts a run on `listener`: its router and its accept loop.
    fn launch(
        cfg: &BrokerConfig,
        listener: TcpListener,
        events: broadcast::Sender<BrokerEvent>,
    ) -> std::io::Result<Arc<Inner>> {
        let local_addr = listener.local_addr()?;
        let (guard, done) = mpsc::channel(1);
        let limits = Limits {
            max_inflight: cfg.max_inflight.max(1),
            max_queued: cfg.max_queued.max(1),
            max_queued_bytes: cfg.max_queued_bytes,
            queue_qos0: cfg.queue_qos0_messages,
        };
        let hub = Hub::new(Router::new(limits));
        let inner = Arc::new(Inner {
            accounts: cfg.accounts.clone(),
            allow_anonymous: cfg.allow_anonymous,
            max_packet_size: cfg.max_packet_size,
            publisher_hold: cfg.publisher_hold,
            drained: hub.drained(),
            local_addr,
            hub: Mutex::new(hub),
            events,
            connect_timeout: watch::Sender::new(cfg.connect_timeout),
            shutdown: watch::Sender::new(false),
            task_guard: Mutex::new(Some(guard.clone())),
            tasks_done: Mutex::new(Some(done)),
        });
        info!(%local_addr, "MQTT broker listening");
        // Subscribed before spawning: a shutdown sent before the task first
        // runs must still be seen as a change.
        let shutdown = inner.shutdown.subscribe();
        let run = inner.clone();
        tokio::spawn(async move {
            let _guard = guard;
            run.accept_loop(listener, shutdown).await;
        });
        Ok(inner)
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        accept_until(listener, shutdown, "MQTT", |stream, peer| {
            self.serve(stream, peer.to_string())
        })
        .await;
        info!(addr = %self.local_addr, "MQTT listener closed");
    }

    /// Spawns the task of one link. Ignored after `stop`.
    fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
        self: &Arc<Self>,
        stream: S,
        peer: String,
    ) {
        let guard = self.task_guard.lock().expect("guard lock").clone();
        let Some(guard) = guard else { return };
        let inner = self.clone();
        tokio::spawn(async move {
            let _guard = guard;
            conn::run(stream, peer, inner).await;
        });
    }

    /// Stops accepting, closes every link and waits for every task of this run to end.
    async fn stop(&self) {
        self.shutdown.send_replace(true);
        self.task_guard.lock().expect("guard lock").take();
        let done = self.tasks_done.lock().expect("done lock").take();
        if let Some(mut done) = done {
            // recv() yields None once every task's guard is dropped.
            while done.recv().await.is_some() {}
        }
    }
}

/// What all clones of a [`Broker`] share: the run now going, and what a restart needs.
struct Shared {
    cfg: BrokerConfig,
    current: RwLock<Arc<Inner>>,
    events: broadcast::Sender<BrokerEvent>,
    /// The TLS listener's address and configuration, restarted with the broker.
    tls: Mutex<Option<(SocketAddr, Arc<rustls::ServerConfig>)>>,
}

/// Handle on a running broker; clones share the same broker, across [`restart`](Self::restart)s
/// too. A simulator given one (`BrokerSetup::Shared`) applies broker faults (`kick-idle`) to it.
#[derive(Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("local_addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Bind the listener and spawn the accept loop.
    pub async fn start(cfg: BrokerConfig) -> std::io::Result<Broker> {
        let listener = TcpListener::bind(cfg.bind).await?;
        let (events, _) = broadcast::channel(1024);
        let inner = Inner::launch(&cfg, listener, events.clone())?;
        Ok(Broker {
            shared: Arc::new(Shared {
                cfg,
                current: RwLock::new(inner),
                events,
                tls: Mutex::new(None),
            }),
        })
    }

    /// The run going now.
    pub(crate) fn inner(&self) -> Arc<Inner> {
        self.shared.current.read().expect("broker lock").clone()
    }

    /// The address really bound (the port chosen when binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner().local_addr
    }

    /// The TLS listener's address, once [`start_tls`](Self::start_tls) has bound one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.shared
            .tls
            .lock()
            .expect("tls lock")
            .as_ref()
            .map(|t| t.0)
    }

    /// Serve one already-accepted byte stream (e.g. a TLS stream wrapped
    /// by another listener). Ignored after `shutdown`.
    pub fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
        &self,
        stream: S,
        peer: String,
    ) {
        self.inner().serve(stream, peer);
    }

    /// Change the CONNECT deadline; applies to links already waiting too.
    pub fn set_connect_timeout(&self, t: Option<Duration>) {
        self.inner().connect_timeout.send_replace(t);
    }

    /// Close the link of `client_id` abruptly (its will is published).
    /// Returns false if no such client is connected.
    pub fn kick_client(&self, client_id: &str) -> bool {
        let inner = self.inner();
        let mut hub = inner.hub.lock().expect("hub lock");
        let fx = hub.router.kick(client_id);
        let kicked = !fx.close.is_empty();
        let _ = hub.apply(fx);
        kicked
    }

    /// The counters since the broker (re)started: drops, held publishers, retained messages.
    pub fn stats(&self) -> BrokerStats {
        self.inner().hub.lock().expect("hub lock").router.stats()
    }

    /// Subscribe to broker events from now on (across restarts).
    pub fn events(&self) -> broadcast::Receiver<BrokerEvent> {
        self.shared.events.subscribe()
    }

    /// Stops the broker the way a server process stops (every link closed, every session and
    /// retained message gone, no will published), waits `pause`, and starts it again on the
    /// same address (and TLS listener) with the same configuration. Every clone of this
    /// handle, and every simulator sharing it, goes on with the new broker.
    pub async fn restart(&self, pause: Duration) -> std::io::Result<()> {
        let old = self.inner();
        old.stop().await;
        info!(addr = %old.local_addr, ?pause, "MQTT broker stopped for a restart");
        tokio::time::sleep(pause).await;
        let listener = TcpListener::bind(old.local_addr).await?;
        let inner = Inner::launch(&self.shared.cfg, listener, self.shared.events.clone())?;
        *self.shared.current.write().expect("broker lock") = inner.clone();
        let tls = self.shared.tls.lock().expect("tls lock").clone();
        if let Some((addr, config)) = tls {
            tls::listen(&inner, addr, config).await?;
        }
        Ok(())
    }

    /// Stop accepting, close every link and wait for every task spawned by
    /// this broker to end. The listening port is free afterwards.
    pub async fn shutdown(self) {
        let inner = self.inner();
        inner.stop().await;
        info!(addr = %inner.local_addr, "MQTT broker stopped");
    }
}
