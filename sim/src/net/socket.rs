//! One raw TCP or UDP socket of the modem, run as a task: what `AT+CIPSTART` (Air780E) and
//! `AT+MIPOPEN` (L610) open. Dialect-neutral: the dialect sends [`NetRequest::SockOpen`],
//! [`NetRequest::SockSend`] and [`NetRequest::Close`], and gets `Connected` /
//! `ConnectFailed`, then [`NetEventKind::SockData`], [`NetEventKind::SockSent`] and `Closed`.
//!
//! Sockets live in the same [`super::link::Links`] map as the MQTT links, so the link faults
//! reach them unchanged: `closed` ends one with a FIN and `Closed(PeerClosed)`, `reset` with an
//! RST and `Closed(Reset)`, `blackhole` swallows every byte both ways (a raw socket has no
//! keepalive, so nothing tells the module), `latency` delays each write and each delivered
//! read. Every exchange is a `tracing` event (the transcript), with the link id.
//!
//! [`NetRequest::SockOpen`]: super::NetRequest::SockOpen
//! [`NetRequest::SockSend`]: super::NetRequest::SockSend
//! [`NetRequest::Close`]: super::NetRequest::Close

use std::net::SocketAddr;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::link::{dial, Abort, Backpressure, Dialed, Latency, LinkCmd};
use super::{CloseReason, HostPort, LinkId, NetEvent, NetEventKind, SockProto, TlsOptions};

/// The most a socket hands the modem at once: the family's packet size ("每包最多1460字节",
/// luatos-doc-pool public/780EP_AT_TCP应用指南.md FAQ 12; CIPSEND.md `<size>` is 1460 too).
pub const MAX_READ: usize = 1460;

/// What to open.
#[derive(Debug, Clone)]
pub struct Spec {
    pub link: LinkId,
    pub proto: SockProto,
    /// Where the router sent it.
    pub target: HostPort,
    /// TCP only: a TLS handshake after the connect.
    pub tls: Option<TlsOptions>,
}

/// Opens the socket and runs it until it ends; every outcome is reported on `events`.
pub async fn run(
    spec: Spec,
    commands: mpsc::UnboundedReceiver<LinkCmd>,
    events: mpsc::UnboundedSender<NetEvent>,
    latency: Latency,
    backpressure: Backpressure,
) {
    let link = spec.link;
    let send = |kind| {
        let _ = events.send(NetEvent { link, kind });
    };
    let io = Io {
        link,
        events: events.clone(),
        latency,
        backpressure,
        blackhole: false,
        seed: 0x2545_F491_4F6C_DD1D ^ link,
    };
    let ended = match spec.proto {
        SockProto::Udp => match udp_connect(&spec.target).await {
            Ok(sock) => {
                info!(link, target = %spec.target, local = ?sock.local_addr().ok(), "UDP socket ready");
                send(NetEventKind::Connected);
                let peer = sock
                    .peer_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                io.run(Udp(sock), peer, commands).await
            }
            Err(e) => {
                info!(link, target = %spec.target, error = %e, "UDP socket failed");
                return send(NetEventKind::ConnectFailed(e.to_string()));
            }
        },
        SockProto::Tcp => match dial(link, &spec.target, spec.tls.as_ref()).await {
            Ok((stream, peer)) => {
                send(NetEventKind::Connected);
                match stream {
                    Dialed::Tcp(s) => io.run(Tcp(s), peer, commands).await,
                    Dialed::Tls(s) => io.run(Tcp(*s), peer, commands).await,
                }
            }
            Err(why) => return send(NetEventKind::ConnectFailed(why)),
        },
    };
    if let Some(reason) = ended {
        info!(link, ?reason, "socket ended");
        send(NetEventKind::Closed(reason));
    }
}

/// A UDP socket bound to any port of the right family and connected to `target` (the name
/// resolved here), so it sends there and hears only from there.
async fn udp_connect(target: &HostPort) -> std::io::Result<UdpSocket> {
    let addr = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{target}: no address")))?;
    let any: SocketAddr = if addr.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(any).await?;
    sock.connect(addr).await?;
    Ok(sock)
}

/// A short, escaped look at a payload for the transcript.
fn preview(data: &[u8]) -> String {
    const MAX: usize = 48;
    let s = String::from_utf8_lossy(&data[..data.len().min(MAX)])
        .escape_debug()
        .to_string();
    if data.len() > MAX {
        format!("{s}...")
    } else {
        s
    }
}

/// The running socket's side of the modem.
struct Io {
    link: LinkId,
    events: mpsc::UnboundedSender<NetEvent>,
    latency: Latency,
    backpressure: Backpressure,
    /// Fault `blackhole`: bytes vanish both ways, the peer's FIN and RST too.
    blackhole: bool,
    seed: u64,
}

/// What the modem asked of a running socket.
enum Step {
    Go,
    /// The socket ends: `None` the modem closed it (or went away), else why the network did.
    End(Option<CloseReason>),
}

impl Io {
    fn emit(&self, kind: NetEventKind) {
        let _ = self.events.send(NetEvent {
            link: self.link,
            kind,
        });
    }

    async fn delay(&mut self) {
        let mut seed = self.seed;
        self.latency.wait(&mut seed).await;
        self.seed = seed;
    }

    /// The incoming bytes, after the latency, to the modem.
    async fn deliver(&mut self, data: &[u8], from: SocketAddr) {
        self.delay().await;
        info!(link = self.link, bytes = data.len(), data = %preview(data), "socket <- peer");
        self.emit(NetEventKind::SockData {
            data: Bytes::copy_from_slice(data),
            from,
        });
    }

    /// Runs the socket until it ends: `None` when the modem closed it (or went away), else why
    /// the network did.
    async fn run<W: Wire>(
        mut self,
        mut wire: W,
        peer: SocketAddr,
        mut commands: mpsc::UnboundedReceiver<LinkCmd>,
    ) -> Option<CloseReason> {
        let mut buf = vec![0u8; W::BUF];
        // Under `blackhole`, the peer's FIN or RST vanishes too: stop reading, keep waiting.
        let mut reading = true;
        let backpressure = self.backpressure.clone();
        loop {
            let read = wire.recv(&mut buf);
            match wake(&backpressure, &mut commands, read, reading).await {
                Woke::Lowered => {}
                Woke::Cmd(Some(LinkCmd::Send(data))) if !self.blackhole => {
                    self.delay().await;
                    info!(link = self.link, bytes = data.len(), data = %preview(&data), "{} -> peer", W::UNIT);
                    if let Err(reason) = wire.send(self.link, &data).await {
                        return Some(reason);
                    }
                    self.emit(NetEventKind::SockSent(data.len()));
                }
                Woke::Cmd(other) => match self.command(other) {
                    Step::Go => {}
                    Step::End(reason) => {
                        wire.end(&reason, self.blackhole).await;
                        return reason;
                    }
                },
                Woke::Read(read) => match wire.received(self.link, read) {
                    Received::Data(n) if !self.blackhole => self.deliver(&buf[..n], peer).await,
                    Received::Data(_) | Received::Nothing => {}
                    Received::End(_) if self.blackhole => reading = false,
                    Received::End(reason) => return Some(reason),
                },
            }
        }
    }

    /// The commands both kinds of socket treat alike.
    fn command(&mut self, cmd: Option<LinkCmd>) -> Step {
        match cmd {
            // The modem is gone (a power cut): drop the socket without a word.
            None => Step::End(None),
            Some(LinkCmd::Close) => {
                info!(link = self.link, "socket closed by the modem");
                Step::End(None)
            }
            Some(LinkCmd::PeerClose) => {
                info!(link = self.link, "fault: the peer closes the socket");
                Step::End(Some(CloseReason::PeerClosed))
            }
            Some(LinkCmd::Blackhole) => {
                info!(link = self.link, "fault: the socket is blackholed");
                self.blackhole = true;
                Step::Go
            }
            Some(LinkCmd::Send(data)) => {
                // Blackholed: the bytes vanish, yet the module believes they went.
                debug!(link = self.link, bytes = data.len(), "-> blackhole");
                self.emit(NetEventKind::SockSent(data.len()));
                Step::Go
            }
            Some(LinkCmd::Mqtt(_)) => {
                warn!(
                    link = self.link,
                    "an MQTT operation for a raw socket: dropped"
                );
                Step::Go
            }
            Some(LinkCmd::Reset) => {
                info!(link = self.link, "fault: the socket is reset");
                Step::End(Some(CloseReason::Reset("connection reset (fault)".into())))
            }
        }
    }
}

/// What a read gave, as a running socket sees it.
enum Received {
    /// Bytes for the modem: the first `n` of the buffer.
    Data(usize),
    /// Nothing to tell.
    Nothing,
    /// The peer ended the connection.
    End(CloseReason),
}

/// What TCP and UDP sockets do differently; [`Io::run`] does the rest.
trait Wire {
    /// What the transcript calls one write.
    const UNIT: &'static str;
    /// The read buffer's size.
    const BUF: usize;
    async fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<usize>;
    /// What a read's result means.
    fn received(&self, link: LinkId, read: std::io::Result<usize>) -> Received;
    /// Sends `data`; an error that ends the socket gives its reason.
    async fn send(&mut self, link: LinkId, data: &[u8]) -> Result<(), CloseReason>;
    /// The modem (or a fault) ended the socket for `reason`; `blackhole`: without a word.
    async fn end(self, reason: &Option<CloseReason>, blackhole: bool);
}

/// A TCP (or TLS over TCP) socket.
struct Tcp<S>(S);

impl<S: AsyncRead + AsyncWrite + Unpin + Abort + Send> Wire for Tcp<S> {
    const UNIT: &'static str = "socket";
    const BUF: usize = MAX_READ;

    async fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).await
    }

    fn received(&self, _: LinkId, read: std::io::Result<usize>) -> Received {
        match read {
            Ok(0) => Received::End(CloseReason::PeerClosed),
            Err(e) => Received::End(CloseReason::Reset(e.to_string())),
            Ok(n) => Received::Data(n),
        }
    }

    async fn send(&mut self, _: LinkId, data: &[u8]) -> Result<(), CloseReason> {
        let written = self.0.write_all(data).await;
        written.map_err(|e| CloseReason::Reset(e.to_string()))
    }

    async fn end(mut self, reason: &Option<CloseReason>, blackhole: bool) {
        if let Some(CloseReason::Reset(_)) = reason {
            // An RST: dropped with `SO_LINGER` 0.
            self.0.abort_on_drop();
        } else if !blackhole {
            let _ = self.0.shutdown().await;
        }
    }
}

/// A UDP socket connected to its peer.
struct Udp(UdpSocket);

impl Wire for Udp {
    const UNIT: &'static str = "datagram";
    // A datagram longer than the module's packet is cut there (the rest is counted lost).
    const BUF: usize = 65536;

    async fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.recv(buf).await
    }

    fn received(&self, link: LinkId, read: std::io::Result<usize>) -> Received {
        match read {
            Ok(n) => {
                if n > MAX_READ {
                    warn!(
                        link,
                        bytes = n,
                        kept = MAX_READ,
                        "datagram longer than the module's packet: cut"
                    );
                }
                Received::Data(n.min(MAX_READ))
            }
            // ICMP port unreachable and friends: UDP has no connection to lose.
            Err(e) => {
                debug!(link, error = %e, "UDP receive error");
                Received::Nothing
            }
        }
    }

    async fn send(&mut self, link: LinkId, data: &[u8]) -> Result<(), CloseReason> {
        // An ICMP error from an earlier datagram: this one is lost, as UDP loses datagrams;
        // the module still reports it sent.
        if let Err(e) = self.0.send(data).await {
            warn!(link, error = %e, "datagram not sent");
        }
        Ok(())
    }

    async fn end(self, _: &Option<CloseReason>, _: bool) {}
}

/// What woke a running socket.
enum Woke<R> {
    /// A command from the modem (`None`: the modem is gone).
    Cmd(Option<LinkCmd>),
    /// What the socket read.
    Read(R),
    /// The modem's back-pressure was lowered: reading may go on.
    Lowered,
}

/// Waits for the modem's next command or, while `reading` and the modem is not pushing back
/// ([`Backpressure`]), for `read`.
async fn wake<F: std::future::Future>(
    backpressure: &Backpressure,
    commands: &mut mpsc::UnboundedReceiver<LinkCmd>,
    read: F,
    reading: bool,
) -> Woke<F::Output> {
    let lowered = backpressure.lowered();
    tokio::pin!(lowered);
    lowered.as_mut().enable();
    let paused = backpressure.is_raised();
    tokio::select! {
        _ = &mut lowered, if paused => Woke::Lowered,
        cmd = commands.recv() => Woke::Cmd(cmd),
        read = read, if reading && !paused => Woke::Read(read),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(link: LinkId, proto: SockProto, addr: SocketAddr) -> Spec {
        Spec {
            link,
            proto,
            target: HostPort {
                host: addr.ip().to_string(),
                port: addr.port(),
            },
            tls: None,
        }
    }

    struct Rig {
        cmds: mpsc::UnboundedSender<LinkCmd>,
        events: mpsc::UnboundedReceiver<NetEvent>,
    }

    impl Rig {
        fn start(spec: Spec) -> Rig {
            let (cmds, rx) = mpsc::unbounded_channel();
            let (etx, events) = mpsc::unbounded_channel();
            tokio::spawn(run(
                spec,
                rx,
                etx,
                Latency::default(),
                Backpressure::default(),
            ));
            Rig { cmds, events }
        }

        /// Link `link`, a TCP socket to a loopback server, connected: the rig and the
        /// server's side.
        async fn connected(link: LinkId) -> (Rig, tokio::net::TcpStream) {
            let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut rig = Rig::start(spec(link, SockProto::Tcp, server.local_addr().unwrap()));
            let (peer, _) = server.accept().await.unwrap();
            assert_eq!(rig.event().await, NetEventKind::Connected);
            (rig, peer)
        }

        async fn event(&mut self) -> NetEventKind {
            self.events.recv().await.expect("an event").kind
        }

        /// Data events until `n` bytes came.
        async fn data(&mut self, n: usize) -> Vec<u8> {
            let mut got = Vec::new();
            while got.len() < n {
                match self.event().await {
                    NetEventKind::SockData { data, .. } => {
                        assert!(data.len() <= MAX_READ);
                        got.extend_from_slice(&data)
                    }
                    NetEventKind::SockSent(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            got
        }
    }

    #[tokio::test]
    async fn tcp_round_trip_in_module_sized_pieces_then_peer_close() {
        let (mut rig, mut peer) = Rig::connected(1).await;
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        rig.cmds
            .send(LinkCmd::Send(Bytes::from(payload.clone())))
            .unwrap();
        let mut got = vec![0u8; payload.len()];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(got, payload);
        peer.write_all(&payload).await.unwrap();
        assert_eq!(rig.data(payload.len()).await, payload);
        drop(peer);
        assert_eq!(
            rig.event().await,
            NetEventKind::Closed(CloseReason::PeerClosed)
        );
    }

    #[tokio::test]
    async fn tcp_fault_closed_sends_a_fin_and_reports_peer_closed() {
        let (mut rig, mut peer) = Rig::connected(2).await;
        rig.cmds.send(LinkCmd::PeerClose).unwrap();
        assert_eq!(
            rig.event().await,
            NetEventKind::Closed(CloseReason::PeerClosed)
        );
        let mut b = [0u8; 1];
        assert_eq!(peer.read(&mut b).await.unwrap(), 0, "the server sees a FIN");
    }

    #[tokio::test]
    async fn tcp_fault_reset_sends_an_rst() {
        let (mut rig, mut peer) = Rig::connected(5).await;
        rig.cmds.send(LinkCmd::Reset).unwrap();
        assert!(matches!(
            rig.event().await,
            NetEventKind::Closed(CloseReason::Reset(_))
        ));
        let mut b = [0u8; 1];
        let err = peer.read(&mut b).await.expect_err("an RST, not a FIN");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    }

    /// `blackhole`: the module's sends "go" (SockSent) but reach nobody, the peer's bytes and
    /// its FIN never arrive, and the socket does not end by itself.
    #[tokio::test]
    async fn tcp_fault_blackhole_swallows_both_ways() {
        let (mut rig, mut peer) = Rig::connected(6).await;
        rig.cmds.send(LinkCmd::Blackhole).unwrap();
        rig.cmds
            .send(LinkCmd::Send(Bytes::from_static(b"lost")))
            .unwrap();
        assert_eq!(rig.event().await, NetEventKind::SockSent(4));
        peer.write_all(b"unheard").await.unwrap();
        peer.shutdown().await.unwrap();
        rig.cmds
            .send(LinkCmd::Send(Bytes::from_static(b"x")))
            .unwrap();
        assert_eq!(rig.event().await, NetEventKind::SockSent(1));
        // The modem goes away: the task ends, and no event ever told of the peer's bytes or FIN.
        drop(rig.cmds);
        if let Some(ev) = rig.events.recv().await {
            panic!("a blackholed socket reported {ev:?}");
        }
        // The socket ends with a FIN, or an RST when the peer's bytes were still unread.
        let mut got = Vec::new();
        if let Err(e) = peer.read_to_end(&mut got).await {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
        }
        assert!(got.is_empty(), "the peer got {got:?}");
    }

    #[tokio::test]
    async fn udp_datagrams_both_ways_and_a_refused_connect() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut rig = Rig::start(spec(3, SockProto::Udp, server.local_addr().unwrap()));
        assert_eq!(rig.event().await, NetEventKind::Connected);
        rig.cmds
            .send(LinkCmd::Send(Bytes::from_static(b"\x00\x01ping\r\n")))
            .unwrap();
        let mut b = [0u8; 64];
        let (n, from) = server.recv_from(&mut b).await.unwrap();
        assert_eq!(&b[..n], b"\x00\x01ping\r\n");
        assert_eq!(rig.event().await, NetEventKind::SockSent(8));
        server.send_to(b"pong\x1a", from).await.unwrap();
        let NetEventKind::SockData { data, from } = rig.event().await else {
            panic!("data")
        };
        assert_eq!(
            (&data[..], from),
            (&b"pong\x1a"[..], server.local_addr().unwrap())
        );

        // A TCP connect to a port nobody listens on fails.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let mut rig = Rig::start(spec(4, SockProto::Tcp, dead));
        assert!(matches!(rig.event().await, NetEventKind::ConnectFailed(_)));
    }
}
