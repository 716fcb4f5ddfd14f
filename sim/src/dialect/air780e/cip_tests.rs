//! The TCP/IP stack's sockets driven through the [`Engine`], network events faked: each answer
//! as the manual's worked examples (使用方法举例.md) and the TCP guide print it.

use super::*;
use crate::dialect::{Effect, Engine};
use crate::net::{CloseReason, LinkId, NetEventKind, NetRequest, SockProto};

struct Rig {
    engine: Engine,
    net: Vec<NetRequest>,
    timers: Vec<u64>,
}

impl Rig {
    fn new() -> Self {
        Rig {
            engine: Engine::new(Box::new(Air780e::new(Identity::default())), false),
            net: vec![],
            timers: vec![],
        }
    }

    fn take(&mut self, effects: Vec<Effect>) -> String {
        let mut text = Vec::new();
        for e in effects {
            match e {
                Effect::Uart(b) => text.extend(b),
                Effect::Net(r) => self.net.push(r),
                Effect::Timer { id, .. } => self.timers.push(id),
                Effect::Baud(_) => {}
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    fn bytes(&mut self, b: &[u8]) -> String {
        let fx = self.engine.feed(b);
        self.take(fx)
    }

    fn send(&mut self, line: &str) -> String {
        self.bytes(format!("{line}\r\n").as_bytes())
    }

    /// The link of the `n`th socket opened (0-based).
    fn link(&self, n: usize) -> LinkId {
        self.net
            .iter()
            .filter_map(|r| match r {
                NetRequest::SockOpen { link, .. } => Some(*link),
                _ => None,
            })
            .nth(n)
            .expect("a socket was opened")
    }

    fn event(&mut self, n: usize, kind: NetEventKind) -> String {
        let link = self.link(n);
        let fx = self.engine.net_event(NetEvent { link, kind });
        self.take(fx)
    }

    fn data(&mut self, n: usize, data: &[u8]) -> String {
        self.event(
            n,
            NetEventKind::SockData {
                data: bytes::Bytes::copy_from_slice(data),
                from: "60.166.18.9:7500".parse().unwrap(),
            },
        )
    }

    /// The last timer asked for fires.
    fn fire_last_timer(&mut self) -> String {
        let id = *self.timers.last().expect("a timer");
        let fx = self.engine.timer(id);
        self.take(fx)
    }

    fn sent(&self) -> Vec<Vec<u8>> {
        self.net
            .iter()
            .filter_map(|r| match r {
                NetRequest::SockSend { data, .. } => Some(data.to_vec()),
                _ => None,
            })
            .collect()
    }
}

/// 使用方法举例.md, TCP非透传应用1 (with `AT+CIPQSEND=0`, the default: `SEND OK`).
#[test]
fn one_tcp_link_as_the_manual_runs_it() {
    let mut r = Rig::new();
    assert_eq!(r.send("AT+CIPMUX=0"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CSTT"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CIICR"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CIFSR"), "\r\n10.104.48.68\r\n");
    assert_eq!(r.send("AT+CIPSTATUS"), "\r\nOK\r\n\r\nSTATE: IP STATUS\r\n");
    assert_eq!(
        r.send("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500"),
        "\r\nOK\r\n"
    );
    let NetRequest::SockOpen {
        proto, host, port, ..
    } = &r.net[0]
    else {
        panic!("{:?}", r.net)
    };
    assert_eq!(
        (*proto, host.as_str(), *port),
        (SockProto::Tcp, "60.166.18.9", 7500)
    );
    assert_eq!(
        r.send("AT+CIPSTATUS"),
        "\r\nOK\r\n\r\nSTATE: TCP CONNECTING\r\n"
    );
    assert_eq!(r.event(0, NetEventKind::Connected), "\r\nCONNECT OK\r\n");
    assert_eq!(
        r.send("AT+CIPSTATUS"),
        "\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n"
    );
    // Quotes optional, the port may be quoted: a second start is ALREADY CONNECT.
    assert_eq!(
        r.send("AT+CIPSTART=TCP,60.166.18.9,\"7500\""),
        "\r\nOK\r\n\r\nALREADY CONNECT\r\n"
    );
    // Variable length: `> `, data, Ctrl-Z; SEND OK when it went out.
    assert_eq!(r.send("AT+CIPSEND"), "\r\n> ");
    assert_eq!(r.bytes(b"1234567890\x1a"), "");
    assert_eq!(r.event(0, NetEventKind::SockSent(10)), "\r\nSEND OK\r\n");
    // Fixed length: binary-safe, exactly <length> bytes.
    assert_eq!(r.send("AT+CIPSEND=5"), "\r\n> ");
    assert_eq!(r.bytes(b"\x1a\x1b\r\n\x00"), "");
    assert_eq!(
        r.sent(),
        vec![b"1234567890".to_vec(), b"\x1a\x1b\r\n\x00".to_vec()]
    );
    assert_eq!(r.event(0, NetEventKind::SockSent(5)), "\r\nSEND OK\r\n");
    // Quick send: DATA ACCEPT at once, nothing when it went out.
    assert_eq!(r.send("AT+CIPQSEND=1"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CIPSEND=10"), "\r\n> ");
    assert_eq!(r.bytes(b"1234567890"), "\r\nDATA ACCEPT:10\r\n");
    assert_eq!(r.event(0, NetEventKind::SockSent(10)), "");
    assert_eq!(r.send("AT+CIPCLOSE"), "\r\nCLOSE OK\r\n");
    assert!(matches!(r.net.last(), Some(NetRequest::Close { .. })));
    assert_eq!(
        r.send("AT+CIPSTATUS"),
        "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n"
    );
    assert_eq!(r.send("AT+CIPCLOSE"), "\r\nERROR\r\n");
    assert_eq!(r.send("AT+CIPSHUT"), "\r\nSHUT OK\r\n");
    assert_eq!(r.send("AT+CIFSR"), "\r\nERROR\r\n");
}

/// 使用方法举例.md, 单链接非透传时接收数据; CIPRXF.md: a `\r\n` after each piece by default.
#[test]
fn received_data_as_ciphead_cipsrip_cipshowtp_ciprxf_say() {
    let mut r = Rig::new();
    // From IP INITIAL the module brings the bearer up itself (TCP非透传应用2).
    assert_eq!(
        r.send("AT+CIPSTART=\"UDP\",\"60.166.18.9\",6100"),
        "\r\nOK\r\n"
    );
    assert_eq!(r.event(0, NetEventKind::Connected), "\r\nCONNECT OK\r\n");
    assert_eq!(r.data(0, b"TEST"), "TEST\r\n");
    assert_eq!(r.send("AT+CIPHEAD=1"), "\r\nOK\r\n");
    assert_eq!(r.data(0, b"TEST"), "\r\n+IPD,4:TEST\r\n");
    assert_eq!(r.send("AT+CIPSHOWTP=1"), "\r\nOK\r\n");
    assert_eq!(r.data(0, b"TEST"), "\r\n+IPD,4,UDP:TEST\r\n");
    assert_eq!(r.send("AT+CIPSHOWTP=0"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CIPSRIP=1"), "\r\nOK\r\n");
    assert_eq!(
        r.data(0, b"TEST"),
        "\r\nRECV FROM:60.166.18.9:7500\r\n+IPD,4:TEST\r\n"
    );
    assert_eq!(r.send("AT+CIPRXF=1"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CIPSRIP=0"), "\r\nOK\r\n");
    assert_eq!(r.data(0, b"\r\nX"), "\r\n+IPD,3:\r\nX");
    assert_eq!(r.send("AT+CIPHEAD?"), "\r\n+CIPHEAD: 1\r\n\r\nOK\r\n");
    assert_eq!(r.send("AT+CIPHEAD=2"), "\r\nERROR\r\n");
}

/// The field report (20240924_air780ep_at_tcp_sendData_error.md): the server closed, the module
/// printed `CLOSED`, `AT+CIPSEND` answers `+CME ERROR: 3`, `AT+CIPSTATUS` says `TCP CLOSED`;
/// a new `AT+CIPSTART` reconnects.
#[test]
fn peer_close_prints_closed_and_later_sends_fail() {
    let mut r = Rig::new();
    r.send("AT+CIPSTART=\"TCP\",\"112.74.41.204\",7000");
    r.event(0, NetEventKind::Connected);
    // A send in flight when the link goes fails.
    assert_eq!(r.send("AT+CIPSEND=2"), "\r\n> ");
    assert_eq!(r.bytes(b"hi"), "");
    assert_eq!(
        r.event(0, NetEventKind::Closed(CloseReason::PeerClosed)),
        "\r\nSEND FAIL\r\n\r\nCLOSED\r\n"
    );
    assert_eq!(r.send("AT+CIPSEND=2"), "\r\n+CME ERROR: 3\r\n");
    assert_eq!(r.send("AT+CIPSEND"), "\r\n+CME ERROR: 3\r\n");
    assert_eq!(
        r.send("AT+CIPSTATUS"),
        "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n"
    );
    assert_eq!(r.send("AT+CIPCLOSE"), "\r\nERROR\r\n");
    assert_eq!(
        r.send("AT+CIPSTART=\"TCP\",\"112.74.41.204\",7000"),
        "\r\nOK\r\n"
    );
    assert_eq!(r.event(1, NetEventKind::Connected), "\r\nCONNECT OK\r\n");
    // A failed connect: `STATE: IP STATUS` then `CONNECT FAIL` (the TCP guide section 3).
    r.send("AT+CIPCLOSE");
    r.send("AT+CIPSTART=\"TCP\",\"112.125.89.8\",37076");
    assert_eq!(
        r.event(2, NetEventKind::ConnectFailed("refused".into())),
        "\r\nSTATE: IP STATUS\r\n\r\nCONNECT FAIL\r\n"
    );
}

/// 使用方法举例.md, 多连接应用1/2 and 多链接非透传时接收数据; CIPSTART.md note 5.
#[test]
fn three_links_at_once_with_cipmux() {
    let mut r = Rig::new();
    assert_eq!(r.send("AT+CIPMUX=1"), "\r\nOK\r\n");
    // Several links need CSTT, CIICR, CIFSR first; the one-link form is refused.
    assert_eq!(
        r.send("AT+CIPSTART=0,\"TCP\",\"60.166.12.210\",7500"),
        "\r\n+CME ERROR: 3\r\n"
    );
    r.send("AT+CSTT");
    r.send("AT+CIICR");
    r.send("AT+CIFSR");
    assert_eq!(
        r.send("AT+CIPSTART=\"TCP\",\"60.166.12.210\",7500"),
        "\r\n+CME ERROR: 3\r\n"
    );
    assert_eq!(r.send("AT+CIPSTART=6,\"TCP\",\"a\",1"), "\r\nERROR\r\n");
    for (n, l) in [
        "1,\"TCP\",\"60.166.12.210\",7500",
        "2,\"TCP\",\"60.166.13.215\",6100",
        "5,\"UDP\",\"60.166.12.210\",6100",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(r.send(&format!("AT+CIPSTART={l}")), "\r\nOK\r\n");
        let want = format!("\r\n{}, CONNECT OK\r\n", [1, 2, 5][n]);
        assert_eq!(r.event(n, NetEventKind::Connected), want);
    }
    assert_eq!(
        r.send("AT+CIPSTART=2,\"TCP\",\"x\",1"),
        "\r\nOK\r\n\r\n2, ALREADY CONNECT\r\n"
    );
    assert_eq!(
        r.send("AT+CIPSTATUS"),
        "\r\nOK\r\n\r\nSTATE: IP PROCESSING\r\n\
         \r\nC: 0,,\"\",\"\",\"\",\"INITIAL\"\r\n\
         \r\nC: 1,0,\"TCP\",\"60.166.12.210\",\"7500\",\"CONNECTED\"\r\n\
         \r\nC: 2,0,\"TCP\",\"60.166.13.215\",\"6100\",\"CONNECTED\"\r\n\
         \r\nC: 3,,\"\",\"\",\"\",\"INITIAL\"\r\n\
         \r\nC: 4,,\"\",\"\",\"\",\"INITIAL\"\r\n\
         \r\nC: 5,0,\"UDP\",\"60.166.12.210\",\"6100\",\"CONNECTED\"\r\n"
    );
    assert_eq!(
        r.send("AT+CIPSTATUS=2"),
        "\r\n+CIPSTATUS: 2,0,\"TCP\",\"60.166.13.215\",\"6100\",\"CONNECTED\"\r\n\r\nOK\r\n"
    );
    // Sends name their link; the execute form is for one link only.
    assert_eq!(r.send("AT+CIPSEND"), "\r\nERROR\r\n");
    assert_eq!(r.send("AT+CIPSEND=0,3"), "\r\n+CME ERROR: 3\r\n");
    assert_eq!(r.send("AT+CIPSEND=2,3"), "\r\n> ");
    r.bytes(b"abc");
    assert_eq!(r.event(1, NetEventKind::SockSent(3)), "\r\n2, SEND OK\r\n");
    assert_eq!(r.send("AT+CIPQSEND=1"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CIPSEND=5"), "\r\n> ");
    assert_eq!(r.bytes(b"1234567890\x1a"), "\r\nDATA ACCEPT:5,10\r\n");
    let sends: Vec<LinkId> = r
        .net
        .iter()
        .filter_map(|q| match q {
            NetRequest::SockSend { link, .. } => Some(*link),
            _ => None,
        })
        .collect();
    assert_eq!(sends, vec![r.link(1), r.link(2)]);
    // Received data names its link, the data on its own line.
    assert_eq!(r.data(0, b"TEST123"), "\r\n+RECEIVE,1,7:\r\nTEST123\r\n");
    assert_eq!(
        r.data(2, b"TEST123456"),
        "\r\n+RECEIVE,5,10:\r\nTEST123456\r\n"
    );
    assert_eq!(
        r.event(0, NetEventKind::Closed(CloseReason::PeerClosed)),
        "\r\n1, CLOSED\r\n"
    );
    assert_eq!(r.send("AT+CIPSEND=1,1"), "\r\n+CME ERROR: 3\r\n");
    assert_eq!(r.send("AT+CIPCLOSE"), "\r\nERROR\r\n");
    assert_eq!(r.send("AT+CIPCLOSE=1"), "\r\nERROR\r\n");
    assert_eq!(r.send("AT+CIPCLOSE=2"), "\r\n2, CLOSE OK\r\n");
    assert_eq!(r.send("AT+CIPCLOSE=5,1"), "\r\n5, CLOSE OK\r\n");
    assert_eq!(r.send("AT+CIPSHUT"), "\r\nSHUT OK\r\n");
    assert_eq!(r.send("AT+CIPMUX=0"), "\r\nOK\r\n");
}

/// 使用方法举例.md, 透明传输应用1: `CONNECT`, data both ways untouched, `+++` with a second
/// of silence before and half a second after gives `OK`, `ATO` gives `CONNECT` again.
#[test]
fn transparent_mode_escape_and_ato() {
    let mut r = Rig::new();
    assert_eq!(r.send("AT+CIPMODE=1"), "\r\nOK\r\n");
    r.send("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500");
    assert_eq!(r.event(0, NetEventKind::Connected), "\r\nCONNECT\r\n");
    // Everything is data now, AT commands and `+++` too soon after data included.
    assert_eq!(r.bytes(b"AT\r\n"), "");
    assert_eq!(r.bytes(b"+++"), "");
    assert_eq!(r.data(0, b"\r\nOK\r\n"), "\r\nOK\r\n", "raw, no header");
    // A second of silence, then `+++`, then half a second: command mode.
    assert_eq!(r.fire_last_timer(), "");
    assert_eq!(r.bytes(b"++"), "");
    assert_eq!(r.bytes(b"+"), "");
    assert_eq!(r.fire_last_timer(), "\r\nOK\r\n");
    assert_eq!(
        r.sent().concat(),
        b"AT\r\n+++".to_vec(),
        "the early `+++` was data, the escape was not"
    );
    assert_eq!(
        r.send("AT+CIPSTATUS"),
        "\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n"
    );
    // Data that comes in command mode waits for ATO.
    assert_eq!(r.data(0, b"later"), "");
    // `ATO\r`, then the rest of its terminator in the next read: not data (DIVERGENCES A23).
    assert_eq!(r.bytes(b"ATO\r"), "\r\nCONNECT\r\nlater");
    assert_eq!(r.bytes(b"\nxyz"), "");
    // `+++` after silence but followed by data within the gap: data.
    r.fire_last_timer();
    assert_eq!(r.bytes(b"+++"), "");
    assert_eq!(r.bytes(b"q"), "");
    assert_eq!(r.sent().concat(), b"AT\r\n+++xyz+++q".to_vec());
    // Two `+` and a gap: data.
    r.fire_last_timer();
    r.bytes(b"++");
    assert_eq!(r.fire_last_timer(), "");
    assert!(r.sent().concat().ends_with(b"q++"));
    // The peer closes: CLOSED, and commands again.
    assert_eq!(
        r.event(0, NetEventKind::Closed(CloseReason::PeerClosed)),
        "\r\nCLOSED\r\n"
    );
    assert_eq!(r.send("AT"), "\r\nOK\r\n");
    assert_eq!(r.send("ATO"), "\r\nNO CARRIER\r\n");
    // CIPMODE is set only in IP INITIAL (CIPMODE.md).
    assert_eq!(r.send("AT+CIPMODE=0"), "\r\n+CME ERROR: 3\r\n");
    assert_eq!(r.send("AT+CIPSHUT"), "\r\nSHUT OK\r\n");
    assert_eq!(r.send("AT+CIPMODE=0"), "\r\nOK\r\n");
}

/// The TCP guide FAQ 5: the network took the context: `+PDP: DEACT`, no `CLOSED`; sends fail
/// and a new `AT+CIPSTART` waits for `AT+CIPSHUT`.
#[test]
fn pdn_deact_ends_the_sockets_with_pdp_deact() {
    let mut r = Rig::new();
    r.send("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500");
    r.event(0, NetEventKind::Connected);
    let fx = r.engine.fault(&Fault::PDN_DEACT);
    assert_eq!(
        r.take(fx),
        "\r\n+CGEV: NW PDN DEACT 1\r\n\r\n+PDP: DEACT\r\n"
    );
    assert!(matches!(r.net.last(), Some(NetRequest::Close { .. })));
    assert_eq!(r.send("AT+CIPSEND=1"), "\r\n+CME ERROR: 3\r\n");
    assert_eq!(
        r.send("AT+CIPSTATUS"),
        "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n"
    );
    assert_eq!(
        r.send("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500"),
        "\r\n+CME ERROR: 3\r\n"
    );
    assert_eq!(r.send("AT+CIPSHUT"), "\r\nSHUT OK\r\n");
    assert_eq!(
        r.send("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500"),
        "\r\nOK\r\n"
    );
}

#[test]
fn malformed_socket_commands() {
    let mut r = Rig::new();
    for (cmd, want) in [
        ("AT+CIPSTART=\"SCTP\",\"a\",1", "\r\nERROR\r\n"),
        ("AT+CIPSTART=\"TCP\",\"a\",0", "\r\nERROR\r\n"),
        ("AT+CIPSTART=\"TCP\",\"a\",65536", "\r\nERROR\r\n"),
        ("AT+CIPSTART=\"TCP\",\"\",80", "\r\nERROR\r\n"),
        ("AT+CIPSTART=\"TCP\",\"a\"", "\r\nERROR\r\n"),
        ("AT+CIPSTART=1,\"TCP\",\"a\",80", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPSTART", "\r\nERROR\r\n"),
        ("AT+CIPSTART?", "\r\nERROR\r\n"),
        ("AT+CIPSEND=1", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPSEND=0", "\r\nERROR\r\n"),
        ("AT+CIPSEND=1461", "\r\nERROR\r\n"),
        ("AT+CIPSEND=x", "\r\nERROR\r\n"),
        ("AT+CIPCLOSE=2", "\r\nERROR\r\n"),
        ("AT+CIPCLOSE", "\r\nERROR\r\n"),
        ("AT+CIPSTATUS=1", "\r\nERROR\r\n"),
        ("AT+CIPQSEND=3", "\r\nERROR\r\n"),
        ("ATO", "\r\nNO CARRIER\r\n"),
    ] {
        assert_eq!(r.send(cmd), want, "{cmd}");
    }
    let long = format!("AT+CIPSTART=\"TCP\",\"{}\",80", "h".repeat(129));
    assert_eq!(r.send(&long), "\r\nERROR\r\n");
    assert!(r.net.is_empty(), "nothing opened: {:?}", r.net);
    assert_eq!(r.send("AT+CIPSEND=?"), "\r\n+CIPSEND: 1460\r\n\r\nOK\r\n");
    assert_eq!(
        r.send("AT+CIPQSEND=?"),
        "\r\n+CIPQSEND: (0,1,2)\r\n\r\nOK\r\n"
    );
}

/// CIPSPRT.md: 0 sends without the prompt but reports; 2 neither prompts nor reports.
#[test]
fn cipsprt_hides_the_prompt_and_the_report() {
    let mut r = Rig::new();
    assert_eq!(r.send("AT+CIPSPRT?"), "\r\n+CIPSPRT: 1\r\n\r\nOK\r\n");
    r.send("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500");
    r.event(0, NetEventKind::Connected);
    assert_eq!(r.send("AT+CIPSPRT=0"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CIPSEND=3"), "");
    assert_eq!(r.bytes(b"abc"), "");
    assert_eq!(r.event(0, NetEventKind::SockSent(3)), "\r\nSEND OK\r\n");
    assert_eq!(r.send("AT+CIPSPRT=2"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CIPSEND=2"), "");
    assert_eq!(r.bytes(b"de"), "");
    assert_eq!(r.event(0, NetEventKind::SockSent(2)), "");
    assert_eq!(r.sent(), vec![b"abc".to_vec(), b"de".to_vec()]);
    assert_eq!(r.send("AT+CIPSPRT=3"), "\r\nERROR\r\n");
    assert_eq!(
        r.send("AT+CIPSPRT=?"),
        "\r\n+CIPSPRT: (0,1,2)\r\n\r\nOK\r\n"
    );
}
