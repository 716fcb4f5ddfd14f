//! The network side of the modem: where a host name goes ([`Router`]), and one task per TCP
//! link that speaks MQTT 3.1.1 with rumqttc's packet codec ([`link`]).
//!
//! The dialects never touch sockets. They send [`NetRequest`]s and receive [`NetEvent`]s, so
//! their logic stays pure and testable without a network.

pub mod http;
pub mod link;
pub mod route;
pub mod socket;

pub use crate::tls::{TlsOptions, TlsVersion, Verify};
use bytes::Bytes;
pub use route::{HostPort, Router};
pub use rumqttc::mqttbytes::v4::ConnectReturnCode;
pub use rumqttc::mqttbytes::QoS;

/// Identifies one TCP link for its whole life. A new `MIPSTART` gets a new id, so a late event
/// from a link the modem already gave up on can be recognised and ignored.
pub type LinkId = u64;

/// What a dialect asks of the network.
#[derive(Debug, Clone, PartialEq)]
pub enum NetRequest {
    /// Open a TCP link to `host:port` as named in the AT command; the router decides where
    /// it really goes. With `tls`, a TLS handshake follows the TCP connect (and a failed
    /// handshake is reported like a failed connect).
    Open {
        link: LinkId,
        host: String,
        port: u16,
        tls: Option<crate::tls::TlsOptions>,
    },
    /// Send an MQTT packet on an open link.
    Mqtt { link: LinkId, op: MqttOp },
    /// Close the link's socket (no MQTT DISCONNECT: that is [`MqttOp::Disconnect`]); on a raw
    /// socket link a FIN (TCP) or the socket dropped (UDP).
    Close { link: LinkId },
    /// One HTTP exchange on its own connection (`AT+HTTPACTION`, `AT+HTTPACT`), answered by
    /// one [`NetEventKind::HttpDone`] or [`NetEventKind::HttpFailed`]. [`NetRequest::Close`]
    /// abandons it without an answer.
    Http {
        link: LinkId,
        req: http::HttpRequest,
    },
    /// Open a raw TCP or UDP socket to `host:port` as named in the AT command (routed with
    /// [`Router::route_service`]); with `tls` (TCP only) a TLS handshake follows the connect.
    /// Answered by `Connected` or `ConnectFailed`, then `SockData`, `SockSent`, `Closed`
    /// (see [`socket`]).
    SockOpen {
        link: LinkId,
        proto: SockProto,
        host: String,
        port: u16,
        tls: Option<crate::tls::TlsOptions>,
    },
    /// Bytes for an open socket: one write (TCP) or one datagram (UDP).
    SockSend { link: LinkId, data: Bytes },
    /// Look `host` up the way the router sends connections ([`Router::lookup`]): answered by
    /// one [`NetEventKind::Resolved`] (`AT+CDNSGIP`).
    Resolve { link: LinkId, host: String },
}

/// A raw socket's protocol (`AT+CIPSTART="TCP"|"UDP"`, the L610's `AT+MIPOPEN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SockProto {
    Tcp,
    Udp,
}

impl SockProto {
    /// `TCP` or `UDP`, as the modules print it.
    pub fn as_str(self) -> &'static str {
        match self {
            SockProto::Tcp => "TCP",
            SockProto::Udp => "UDP",
        }
    }
}

/// Link ids at and above this are HTTP exchanges (below: the MQTT links the dialects count
/// from 1), so one dialect can tell whose a [`NetEvent`] is.
pub const HTTP_LINKS: LinkId = 1 << 40;

/// The MQTT operations a module performs on an open link.
#[derive(Debug, Clone, PartialEq)]
pub enum MqttOp {
    Connect(ConnectParams),
    Subscribe(Vec<(String, QoS)>),
    Unsubscribe(Vec<String>),
    Publish {
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Bytes,
    },
    Disconnect,
}

/// Everything the CONNECT packet carries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectParams {
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub clean_session: bool,
    /// Seconds; 0 disables keepalive.
    pub keepalive: u16,
    pub will: Option<Will>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
}

/// What the network tells a dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct NetEvent {
    pub link: LinkId,
    pub kind: NetEventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NetEventKind {
    Connected,
    ConnectFailed(String),
    ConnAck(ConnectReturnCode),
    /// One granted QoS per filter; `None` is a refused filter (0x80).
    SubAck(Vec<Option<QoS>>),
    UnsubAck,
    PubAck,
    PubRec,
    PubComp,
    Message {
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Bytes,
    },
    Closed(CloseReason),
    /// An HTTP exchange ended with a response.
    HttpDone(http::HttpResponse),
    /// An HTTP exchange ended without one.
    HttpFailed(http::HttpError),
    /// Bytes a raw socket received: at most [`socket::MAX_READ`] per event (a TCP read, or one
    /// UDP datagram), with the peer's address (`AT+CIPSRIP`'s `RECV FROM:`).
    SockData {
        data: Bytes,
        from: std::net::SocketAddr,
    },
    /// A [`NetRequest::SockSend`]'s bytes went out (handed to the kernel): `SEND OK`.
    SockSent(usize),
    /// A [`NetRequest::Resolve`]'s answer: the address, or `None` for a name nobody knows.
    Resolved(Option<std::net::IpAddr>),
}

/// Why a link ended without the modem asking for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed the TCP connection (FIN).
    PeerClosed,
    /// A socket error, typically a reset.
    Reset(String),
    /// No PINGRESP came back within the keepalive interval.
    KeepaliveTimeout,
    /// The peer sent bytes that are not MQTT.
    Protocol(String),
}
