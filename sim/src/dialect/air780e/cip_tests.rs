//! The TCP/IP stack's sockets driven through the [`Engine`], network events faked: each answer
//! as the manual's worked examples (使用方法举例.md) and the TCP guide print it.

use super::*;
use crate::dialect::rig::{sock_data, Rig};
use crate::net::{CloseReason, LinkId, NetEventKind, NetRequest, SockProto};

/// Where the manual's examples' data comes from.
const PEER: &str = "60.166.18.9:7500";

/// A fresh Air780E; its commands end with CR LF.
fn rig() -> Rig {
    Rig::new(DialectKind::Air780e).crlf()
}

impl Rig {
    /// One TCP link to `host:port`, connected (what that prints, other tests check).
    fn connect_tcp(&mut self, host: &str, port: u16) {
        self.send(&format!("AT+CIPSTART=\"TCP\",\"{host}\",{port}"));
        self.on_socket(self.sockets().len() - 1, NetEventKind::Connected);
    }

    /// Data from [`PEER`] on the `n`th socket opened.
    fn data(&mut self, n: usize, data: &[u8]) -> String {
        self.on_socket(n, sock_data(PEER, data))
    }
}

/// 使用方法举例.md, TCP非透传应用1 (with `AT+CIPQSEND=0`, the default: `SEND OK`).
#[test]
fn one_tcp_link_as_the_manual_runs_it() {
    let mut r = rig();
    r.script(&[
        ("AT+CIPMUX=0", "\r\nOK\r\n"),
        ("AT+CSTT", "\r\nOK\r\n"),
        ("AT+CIICR", "\r\nOK\r\n"),
        ("AT+CIFSR", "\r\n10.104.48.68\r\n"),
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP STATUS\r\n"),
        ("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500", "\r\nOK\r\n"),
    ]);
    let (_, proto, host, port, tls) = &r.sockets()[0];
    assert_eq!(
        (*proto, host.as_str(), *port, *tls),
        (SockProto::Tcp, "60.166.18.9", 7500, false)
    );
    assert_eq!(
        r.send("AT+CIPSTATUS"),
        "\r\nOK\r\n\r\nSTATE: TCP CONNECTING\r\n"
    );
    assert_eq!(
        r.on_socket(0, NetEventKind::Connected),
        "\r\nCONNECT OK\r\n"
    );
    r.script(&[
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n"),
        // Quotes optional, the port may be quoted: a second start is ALREADY CONNECT.
        (
            "AT+CIPSTART=TCP,60.166.18.9,\"7500\"",
            "\r\nOK\r\n\r\nALREADY CONNECT\r\n",
        ),
        // Variable length: `> `, data, Ctrl-Z; SEND OK when it went out.
        ("AT+CIPSEND", "\r\n> "),
    ]);
    assert_eq!(r.raw(b"1234567890\x1a"), "");
    assert_eq!(
        r.on_socket(0, NetEventKind::SockSent(10)),
        "\r\nSEND OK\r\n"
    );
    // Fixed length: binary-safe, exactly <length> bytes.
    assert_eq!(r.send("AT+CIPSEND=5"), "\r\n> ");
    assert_eq!(r.raw(b"\x1a\x1b\r\n\x00"), "");
    assert_eq!(
        r.sent(),
        vec![b"1234567890".to_vec(), b"\x1a\x1b\r\n\x00".to_vec()]
    );
    assert_eq!(r.on_socket(0, NetEventKind::SockSent(5)), "\r\nSEND OK\r\n");
    // Quick send: DATA ACCEPT at once, nothing when it went out.
    r.script(&[("AT+CIPQSEND=1", "\r\nOK\r\n"), ("AT+CIPSEND=10", "\r\n> ")]);
    assert_eq!(r.raw(b"1234567890"), "\r\nDATA ACCEPT:10\r\n");
    assert_eq!(r.on_socket(0, NetEventKind::SockSent(10)), "");
    r.closes(|r| r.send("AT+CIPCLOSE"), "\r\nCLOSE OK\r\n");
    r.script(&[
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n"),
        ("AT+CIPCLOSE", "\r\nERROR\r\n"),
        ("AT+CIPSHUT", "\r\nSHUT OK\r\n"),
        ("AT+CIFSR", "\r\nERROR\r\n"),
    ]);
}

/// 使用方法举例.md, 单链接非透传时接收数据; CIPRXF.md: a `\r\n` after each piece by default.
#[test]
fn received_data_as_ciphead_cipsrip_cipshowtp_ciprxf_say() {
    let mut r = rig();
    // From IP INITIAL the module brings the bearer up itself (TCP非透传应用2).
    assert_eq!(
        r.send("AT+CIPSTART=\"UDP\",\"60.166.18.9\",6100"),
        "\r\nOK\r\n"
    );
    assert_eq!(
        r.on_socket(0, NetEventKind::Connected),
        "\r\nCONNECT OK\r\n"
    );
    assert_eq!(r.data(0, b"TEST"), "TEST\r\n");
    assert_eq!(r.send("AT+CIPHEAD=1"), "\r\nOK\r\n");
    assert_eq!(r.data(0, b"TEST"), "\r\n+IPD,4:TEST\r\n");
    assert_eq!(r.send("AT+CIPSHOWTP=1"), "\r\nOK\r\n");
    assert_eq!(r.data(0, b"TEST"), "\r\n+IPD,4,UDP:TEST\r\n");
    r.script(&[
        ("AT+CIPSHOWTP=0", "\r\nOK\r\n"),
        ("AT+CIPSRIP=1", "\r\nOK\r\n"),
    ]);
    assert_eq!(
        r.data(0, b"TEST"),
        "\r\nRECV FROM:60.166.18.9:7500\r\n+IPD,4:TEST\r\n"
    );
    r.script(&[
        ("AT+CIPRXF=1", "\r\nOK\r\n"),
        ("AT+CIPSRIP=0", "\r\nOK\r\n"),
    ]);
    assert_eq!(r.data(0, b"\r\nX"), "\r\n+IPD,3:\r\nX");
    r.script(&[
        ("AT+CIPHEAD?", "\r\n+CIPHEAD: 1\r\n\r\nOK\r\n"),
        ("AT+CIPHEAD=2", "\r\nERROR\r\n"),
    ]);
}

/// The field report (20240924_air780ep_at_tcp_sendData_error.md): the server closed, the module
/// printed `CLOSED`, `AT+CIPSEND` answers `+CME ERROR: 3`, `AT+CIPSTATUS` says `TCP CLOSED`;
/// a new `AT+CIPSTART` reconnects.
#[test]
fn peer_close_prints_closed_and_later_sends_fail() {
    let mut r = rig().set_up(|r| r.connect_tcp("112.74.41.204", 7000));
    // A send in flight when the link goes fails.
    assert_eq!(r.send("AT+CIPSEND=2"), "\r\n> ");
    assert_eq!(r.raw(b"hi"), "");
    assert_eq!(
        r.on_socket(0, NetEventKind::Closed(CloseReason::PeerClosed)),
        "\r\nSEND FAIL\r\n\r\nCLOSED\r\n"
    );
    r.script(&[
        ("AT+CIPSEND=2", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPSEND", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n"),
        ("AT+CIPCLOSE", "\r\nERROR\r\n"),
        ("AT+CIPSTART=\"TCP\",\"112.74.41.204\",7000", "\r\nOK\r\n"),
    ]);
    assert_eq!(
        r.on_socket(1, NetEventKind::Connected),
        "\r\nCONNECT OK\r\n"
    );
    // A failed connect: `STATE: IP STATUS` then `CONNECT FAIL` (the TCP guide section 3).
    r.send("AT+CIPCLOSE");
    r.send("AT+CIPSTART=\"TCP\",\"112.125.89.8\",37076");
    assert_eq!(
        r.on_socket(2, NetEventKind::ConnectFailed("refused".into())),
        "\r\nSTATE: IP STATUS\r\n\r\nCONNECT FAIL\r\n"
    );
}

/// 使用方法举例.md, 多连接应用1/2 and 多链接非透传时接收数据; CIPSTART.md note 5.
#[test]
fn three_links_at_once_with_cipmux() {
    let mut r = rig();
    r.script(&[
        ("AT+CIPMUX=1", "\r\nOK\r\n"),
        // Several links need CSTT, CIICR, CIFSR first; the one-link form is refused.
        (
            "AT+CIPSTART=0,\"TCP\",\"60.166.12.210\",7500",
            "\r\n+CME ERROR: 3\r\n",
        ),
    ]);
    r.send("AT+CSTT");
    r.send("AT+CIICR");
    r.send("AT+CIFSR");
    r.script(&[
        (
            "AT+CIPSTART=\"TCP\",\"60.166.12.210\",7500",
            "\r\n+CME ERROR: 3\r\n",
        ),
        ("AT+CIPSTART=6,\"TCP\",\"a\",1", "\r\nERROR\r\n"),
    ]);
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
        assert_eq!(r.on_socket(n, NetEventKind::Connected), want);
    }
    r.script(&[
        ("AT+CIPSTART=2,\"TCP\",\"x\",1", "\r\nOK\r\n\r\n2, ALREADY CONNECT\r\n"),
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP PROCESSING\r\n\r\nC: 0,,\"\",\"\",\"\",\"INITIAL\"\r\n\r\nC: 1,0,\"TCP\",\"60.166.12.210\",\"7500\",\"CONNECTED\"\r\n\r\nC: 2,0,\"TCP\",\"60.166.13.215\",\"6100\",\"CONNECTED\"\r\n\r\nC: 3,,\"\",\"\",\"\",\"INITIAL\"\r\n\r\nC: 4,,\"\",\"\",\"\",\"INITIAL\"\r\n\r\nC: 5,0,\"UDP\",\"60.166.12.210\",\"6100\",\"CONNECTED\"\r\n"),
        ("AT+CIPSTATUS=2", "\r\n+CIPSTATUS: 2,0,\"TCP\",\"60.166.13.215\",\"6100\",\"CONNECTED\"\r\n\r\nOK\r\n"),
        // Sends name their link; the execute form is for one link only.
        ("AT+CIPSEND", "\r\nERROR\r\n"),
        ("AT+CIPSEND=0,3", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPSEND=2,3", "\r\n> "),
    ]);
    r.raw(b"abc");
    assert_eq!(
        r.on_socket(1, NetEventKind::SockSent(3)),
        "\r\n2, SEND OK\r\n"
    );
    r.script(&[("AT+CIPQSEND=1", "\r\nOK\r\n"), ("AT+CIPSEND=5", "\r\n> ")]);
    assert_eq!(r.raw(b"1234567890\x1a"), "\r\nDATA ACCEPT:5,10\r\n");
    let sends: Vec<LinkId> = r.sock_sends().into_iter().map(|(link, _)| link).collect();
    assert_eq!(sends, vec![r.socket(1), r.socket(2)]);
    // Received data names its link, the data on its own line.
    assert_eq!(r.data(0, b"TEST123"), "\r\n+RECEIVE,1,7:\r\nTEST123\r\n");
    assert_eq!(
        r.data(2, b"TEST123456"),
        "\r\n+RECEIVE,5,10:\r\nTEST123456\r\n"
    );
    assert_eq!(
        r.on_socket(0, NetEventKind::Closed(CloseReason::PeerClosed)),
        "\r\n1, CLOSED\r\n"
    );
    r.script(&[
        ("AT+CIPSEND=1,1", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPCLOSE", "\r\nERROR\r\n"),
        ("AT+CIPCLOSE=1", "\r\nERROR\r\n"),
        ("AT+CIPCLOSE=2", "\r\n2, CLOSE OK\r\n"),
        ("AT+CIPCLOSE=5,1", "\r\n5, CLOSE OK\r\n"),
        ("AT+CIPSHUT", "\r\nSHUT OK\r\n"),
        ("AT+CIPMUX=0", "\r\nOK\r\n"),
    ]);
}

/// 使用方法举例.md, 透明传输应用1: `CONNECT`, data both ways untouched, `+++` with a second
/// of silence before and half a second after gives `OK`, `ATO` gives `CONNECT` again.
#[test]
fn transparent_mode_escape_and_ato() {
    let mut r = rig();
    r.script(&[
        ("AT+CIPMODE=1", "\r\nOK\r\n"),
        ("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500", "\r\nOK\r\n"),
    ]);
    assert_eq!(r.on_socket(0, NetEventKind::Connected), "\r\nCONNECT\r\n");
    // Everything is data now, AT commands and `+++` too soon after data included.
    assert_eq!(r.raw(b"AT\r\n"), "");
    assert_eq!(r.raw(b"+++"), "");
    assert_eq!(r.data(0, b"\r\nOK\r\n"), "\r\nOK\r\n", "raw, no header");
    // A second of silence, then `+++`, then half a second: command mode.
    assert_eq!(r.fire_last(), "");
    assert_eq!(r.raw(b"++"), "");
    assert_eq!(r.raw(b"+"), "");
    assert_eq!(r.fire_last(), "\r\nOK\r\n");
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
    assert_eq!(r.raw(b"ATO\r"), "\r\nCONNECT\r\nlater");
    assert_eq!(r.raw(b"\nxyz"), "");
    // `+++` after silence but followed by data within the gap: data.
    r.fire_last();
    assert_eq!(r.raw(b"+++"), "");
    assert_eq!(r.raw(b"q"), "");
    assert_eq!(r.sent().concat(), b"AT\r\n+++xyz+++q".to_vec());
    // Two `+` and a gap: data.
    r.fire_last();
    r.raw(b"++");
    assert_eq!(r.fire_last(), "");
    assert!(r.sent().concat().ends_with(b"q++"));
    // The peer closes: CLOSED, and commands again.
    assert_eq!(
        r.on_socket(0, NetEventKind::Closed(CloseReason::PeerClosed)),
        "\r\nCLOSED\r\n"
    );
    r.script(&[
        ("AT", "\r\nOK\r\n"),
        ("ATO", "\r\nNO CARRIER\r\n"),
        // CIPMODE is set only in IP INITIAL (CIPMODE.md).
        ("AT+CIPMODE=0", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPSHUT", "\r\nSHUT OK\r\n"),
        ("AT+CIPMODE=0", "\r\nOK\r\n"),
    ]);
}

/// The TCP guide FAQ 5: the network took the context: `+PDP: DEACT`, no `CLOSED`; sends fail
/// and a new `AT+CIPSTART` waits for `AT+CIPSHUT`.
#[test]
fn pdn_deact_ends_the_sockets_with_pdp_deact() {
    let mut r = rig().set_up(|r| r.connect_tcp("60.166.18.9", 7500));
    r.closes(
        |r| r.fault(Fault::PDN_DEACT),
        "\r\n+CGEV: NW PDN DEACT 1\r\n\r\n+PDP: DEACT\r\n",
    );
    r.script(&[
        ("AT+CIPSEND=1", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n"),
        (
            "AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500",
            "\r\n+CME ERROR: 3\r\n",
        ),
        ("AT+CIPSHUT", "\r\nSHUT OK\r\n"),
        ("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500", "\r\nOK\r\n"),
    ]);
}

#[test]
fn malformed_socket_commands() {
    let mut r = rig();
    r.script(&[
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
    ]);
    let long = format!("AT+CIPSTART=\"TCP\",\"{}\",80", "h".repeat(129));
    assert_eq!(r.send(&long), "\r\nERROR\r\n");
    assert!(r.net.is_empty(), "nothing opened: {:?}", r.net);
    r.script(&[
        ("AT+CIPSEND=?", "\r\n+CIPSEND: 1460\r\n\r\nOK\r\n"),
        ("AT+CIPQSEND=?", "\r\n+CIPQSEND: (0,1,2)\r\n\r\nOK\r\n"),
    ]);
}

/// CIPSPRT.md: 0 sends without the prompt but reports; 2 neither prompts nor reports.
#[test]
fn cipsprt_hides_the_prompt_and_the_report() {
    let mut r = rig();
    assert_eq!(r.send("AT+CIPSPRT?"), "\r\n+CIPSPRT: 1\r\n\r\nOK\r\n");
    r.connect_tcp("60.166.18.9", 7500);
    r.script(&[("AT+CIPSPRT=0", "\r\nOK\r\n"), ("AT+CIPSEND=3", "")]);
    assert_eq!(r.raw(b"abc"), "");
    assert_eq!(r.on_socket(0, NetEventKind::SockSent(3)), "\r\nSEND OK\r\n");
    r.script(&[("AT+CIPSPRT=2", "\r\nOK\r\n"), ("AT+CIPSEND=2", "")]);
    assert_eq!(r.raw(b"de"), "");
    assert_eq!(r.on_socket(0, NetEventKind::SockSent(2)), "");
    assert_eq!(r.sent(), vec![b"abc".to_vec(), b"de".to_vec()]);
    r.script(&[
        ("AT+CIPSPRT=3", "\r\nERROR\r\n"),
        ("AT+CIPSPRT=?", "\r\n+CIPSPRT: (0,1,2)\r\n\r\nOK\r\n"),
    ]);
}

/// SSLCFG.md `<n>`: a TCP link's SSL context is its number (0 with one link); 88 stays MQTT's.
#[test]
fn cipssl_uses_the_links_ssl_context() {
    let mut r = rig();
    r.script(&[
        ("AT+SSLCFG=\"hostname\",2,\"two.example\"", "\r\nOK\r\n"),
        ("AT+SSLCFG=\"hostname\",88,\"mqtt.example\"", "\r\nOK\r\n"),
        (
            "AT+SSLCFG=\"clientrandom\",2,101B12C3141516171F19202122232425262728293031323334353637",
            "\r\nOK\r\n",
        ),
        ("AT+SSLCFG=\"cacert\",6,\"ca.crt\"", "\r\nERROR\r\n"),
        ("AT+SSLCFG=\"ciphersuite\",0,0XGGGG", "\r\nERROR\r\n"),
        (
            "AT+SSLCFG=\"hostname\",2",
            "\r\n+SSLCFG: \"hostname\",2,\"two.example\"\r\n\r\nOK\r\n",
        ),
    ]);
    for c in [
        "AT+CIPSSL=1",
        "AT+CIPMUX=1",
        "AT+CSTT",
        "AT+CIICR",
        "AT+CIFSR",
    ] {
        r.send(c);
    }
    r.send("AT+CIPSTART=2,\"TCP\",\"60.166.18.9\",7500");
    r.send("AT+CIPSTART=3,\"UDP\",\"60.166.18.9\",7500");
    let tls: Vec<Option<String>> = r
        .net
        .iter()
        .filter_map(|q| match q {
            NetRequest::SockOpen { tls, .. } => Some(tls.as_ref().map(|t| t.server_name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        tls,
        vec![Some("two.example".to_string()), None],
        "UDP has no TLS"
    );
}

/// CIPACK.md: `+CIPACK: <txlen>,<acklen>,<nacklen>`, 0 before anything is sent, growing with
/// each send; acknowledged once the socket layer wrote the bytes (DIVERGENCES S12); the counts
/// start again at 0 with a new `AT+CIPSTART` and after `AT+CIPSHUT` (注意事项).
#[test]
fn cipack_counts_a_links_bytes_sent_and_acknowledged() {
    let mut r = rig();
    r.script(&[
        ("AT+CIPACK=?", "\r\nOK\r\n"),
        ("AT+CIPACK", "\r\n+CIPACK: 0,0,0\r\n\r\nOK\r\n"),
    ]);
    r.connect_tcp("60.166.18.9", 7500);
    r.script(&[
        ("AT+CIPACK", "\r\n+CIPACK: 0,0,0\r\n\r\nOK\r\n"),
        ("AT+CIPSEND=5", "\r\n> "),
    ]);
    assert_eq!(r.raw(b"\x00\x1a\r\n\xff"), "");
    assert_eq!(r.send("AT+CIPACK"), "\r\n+CIPACK: 5,0,5\r\n\r\nOK\r\n");
    assert_eq!(r.on_socket(0, NetEventKind::SockSent(5)), "\r\nSEND OK\r\n");
    r.script(&[
        ("AT+CIPACK", "\r\n+CIPACK: 5,5,0\r\n\r\nOK\r\n"),
        ("AT+CIPQSEND=1", "\r\nOK\r\n"),
        ("AT+CIPSEND", "\r\n> "),
    ]);
    assert_eq!(r.raw(b"1234567\x1a"), "\r\nDATA ACCEPT:7\r\n");
    assert_eq!(r.send("AT+CIPACK"), "\r\n+CIPACK: 12,5,7\r\n\r\nOK\r\n");
    r.on_socket(0, NetEventKind::SockSent(7));
    r.script(&[
        ("AT+CIPACK", "\r\n+CIPACK: 12,12,0\r\n\r\nOK\r\n"),
        // The multi-link form, and the read form, are not the single link's.
        ("AT+CIPACK=0", "\r\nERROR\r\n"),
        ("AT+CIPACK?", "\r\nERROR\r\n"),
    ]);
    // Closed: the counts stay until the link is started again.
    r.closes(|r| r.send("AT+CIPCLOSE"), "\r\nCLOSE OK\r\n");
    assert_eq!(r.send("AT+CIPACK"), "\r\n+CIPACK: 12,12,0\r\n\r\nOK\r\n");
    r.connect_tcp("60.166.18.9", 7500);
    assert_eq!(r.send("AT+CIPACK"), "\r\n+CIPACK: 0,0,0\r\n\r\nOK\r\n");
    r.script(&[("AT+CIPSEND=2", "\r\n> ")]);
    r.raw(b"ab");
    r.script(&[
        ("AT+CIPACK", "\r\n+CIPACK: 2,0,2\r\n\r\nOK\r\n"),
        ("AT+CIPSHUT", "\r\nSHUT OK\r\n"),
        ("AT+CIPACK", "\r\n+CIPACK: 0,0,0\r\n\r\nOK\r\n"),
    ]);
}

/// CIPACK.md: `AT+CIPACK=<n>` with `AT+CIPMUX=1`, each link its own counts.
#[test]
fn cipack_per_link_with_cipmux() {
    let mut r = rig();
    for c in ["AT+CIPMUX=1", "AT+CSTT", "AT+CIICR", "AT+CIFSR"] {
        r.send(c);
    }
    for (i, n) in [1, 4].iter().enumerate() {
        r.send(&format!("AT+CIPSTART={n},\"TCP\",\"60.166.18.9\",7500"));
        r.on_socket(i, NetEventKind::Connected);
    }
    r.script(&[("AT+CIPSEND=4,3", "\r\n> ")]);
    r.raw(b"a\rb");
    r.script(&[("AT+CIPSEND=1,10", "\r\n> ")]);
    r.raw(b"0123456789");
    r.on_socket(0, NetEventKind::SockSent(10));
    r.script(&[
        ("AT+CIPACK=1", "\r\n+CIPACK: 10,10,0\r\n\r\nOK\r\n"),
        ("AT+CIPACK=4", "\r\n+CIPACK: 3,0,3\r\n\r\nOK\r\n"),
        ("AT+CIPACK=0", "\r\n+CIPACK: 0,0,0\r\n\r\nOK\r\n"),
        ("AT+CIPACK", "\r\nERROR\r\n"),
        ("AT+CIPACK=6", "\r\nERROR\r\n"),
        ("AT+CIPACK=x", "\r\nERROR\r\n"),
        ("AT+CIPACK=1,1", "\r\nERROR\r\n"),
        ("AT+CIPACK=", "\r\nERROR\r\n"),
    ]);
    r.on_socket(1, NetEventKind::SockSent(3));
    assert_eq!(r.send("AT+CIPACK=4"), "\r\n+CIPACK: 3,3,0\r\n\r\nOK\r\n");
}

/// CIPCCFG.md: the test form's ranges, the defaults, set only with one link in the transparent
/// mode; `<SendSz>` sizes the transparent mode's packets, which `AT+CIPACK` counts; `<esc>` 0
/// does not stop `+++` (the page: the software ignores it).
#[test]
fn cipccfg_settings_and_send_size() {
    let mut r = rig();
    r.script(&[
        ("AT+CIPCCFG=?", "\r\n+CIPCCFG: (NmRetry:3-8),(WaitTm:2-10),(SendSz:1-1460),(esc:0,1),(Rxmode:0,1),(RxSize:50-1460),(Rxtimer:20-1000),(BufClean:0,1)\r\n\r\nOK\r\n"),
        ("AT+CIPCCFG?", "\r\n+CIPCCFG: 5,2,1024,0,0,1460,50,0\r\n\r\nOK\r\n"),
        // Not in the transparent mode: refused; malformed: ERROR first.
        ("AT+CIPCCFG=3,2,100,1", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPCCFG=3,2,100", "\r\nERROR\r\n"),
        ("AT+CIPMODE=1", "\r\nOK\r\n"),
        ("AT+CIPCCFG=3,10,100,0", "\r\nOK\r\n"),
        ("AT+CIPCCFG?", "\r\n+CIPCCFG: 3,10,100,0,0,1460,50,0\r\n\r\nOK\r\n"),
        ("AT+CIPCCFG=8,2,100,0,1,50,1000,1", "\r\nOK\r\n"),
        ("AT+CIPCCFG?", "\r\n+CIPCCFG: 8,2,100,0,1,50,1000,1\r\n\r\nOK\r\n"),
        // A SIM800 driver's seven: the eighth stays.
        ("AT+CIPCCFG=5,2,100,1,0,1460,50", "\r\nOK\r\n"),
        ("AT+CIPCCFG?", "\r\n+CIPCCFG: 5,2,100,1,0,1460,50,1\r\n\r\nOK\r\n"),
    ]);
    r.all_answer(
        "\r\nERROR\r\n",
        &[
            "AT+CIPCCFG",
            "AT+CIPCCFG=",
            "AT+CIPCCFG=2,2,100,0",
            "AT+CIPCCFG=9,2,100,0",
            "AT+CIPCCFG=5,1,100,0",
            "AT+CIPCCFG=5,11,100,0",
            "AT+CIPCCFG=5,2,0,0",
            "AT+CIPCCFG=5,2,1461,0",
            "AT+CIPCCFG=5,2,100,2",
            "AT+CIPCCFG=5,2,100,0,2",
            "AT+CIPCCFG=5,2,100,0,0,49",
            "AT+CIPCCFG=5,2,100,0,0,1461",
            "AT+CIPCCFG=5,2,100,0,0,1460,19",
            "AT+CIPCCFG=5,2,100,0,0,1460,1001",
            "AT+CIPCCFG=5,2,100,0,0,1460,50,2",
            "AT+CIPCCFG=5,2,100,0,0,1460,50,0,0",
            "AT+CIPCCFG=5,,100,0",
            "AT+CIPCCFG=a,2,100,0",
        ],
    );
    assert_eq!(
        r.send("AT+CIPCCFG?"),
        "\r\n+CIPCCFG: 5,2,100,1,0,1460,50,1\r\n\r\nOK\r\n",
        "a refused set changes nothing"
    );
    // The transparent mode: 250 bytes go out in packets of <SendSz> 100.
    r.send("AT+CIPSTART=\"TCP\",\"60.166.18.9\",7500");
    assert_eq!(r.on_socket(0, NetEventKind::Connected), "\r\nCONNECT\r\n");
    let data: Vec<u8> = (0..250u8).collect();
    assert_eq!(r.raw(&data), "");
    let sizes: Vec<usize> = r.sent().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    assert_eq!(r.sent().concat(), data);
    r.on_socket(0, NetEventKind::SockSent(200));
    // `+++` escapes although <esc> was 0 before and is 1 now: the module ignores it.
    r.fire_last();
    r.raw(b"+++");
    assert_eq!(r.fire_last(), "\r\nOK\r\n");
    r.script(&[
        ("AT+CIPACK", "\r\n+CIPACK: 250,200,50\r\n\r\nOK\r\n"),
        ("AT+CIPCCFG=5,2,1460,0", "\r\nOK\r\n"),
    ]);
    // Several links: refused.
    r.send("AT+CIPSHUT");
    r.script(&[
        ("AT+CIPMODE=0", "\r\nOK\r\n"),
        ("AT+CIPMUX=1", "\r\nOK\r\n"),
        ("AT+CIPCCFG=5,2,1024,0", "\r\n+CME ERROR: 3\r\n"),
        (
            "AT+CIPCCFG?",
            "\r\n+CIPCCFG: 5,2,1460,0,0,1460,50,1\r\n\r\nOK\r\n",
        ),
    ]);
}

impl Rig {
    /// The id of the `AT+CDNSGIP` lookup asked for last, checking it names `host`.
    #[track_caller]
    fn lookup_of(&self, host: &str) -> LinkId {
        match self.net.last() {
            Some(NetRequest::Resolve { link, host: h }) if h == host => *link,
            other => panic!("no lookup of {host}: {other:?}"),
        }
    }
}

/// CDNSGIP.md: the test form is `OK`; a lookup is `OK` and, when the answer comes,
/// `+CDNSGIP: 1,"<name>","<ip>"` (the captures' commas and quotes, S14); a name nothing routes
/// is `+CDNSGIP: 0,10`; the name as the host typed it, quotes optional.
#[test]
fn cdnsgip_answers_after_ok_and_an_unknown_name_fails_with_code_10() {
    let mut r = rig();
    assert_eq!(r.send("AT+CDNSGIP=?"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+CDNSGIP=\"TCPlab.openluat.com\""), "\r\nOK\r\n");
    let lab = r.lookup_of("TCPlab.openluat.com");
    assert_eq!(r.send("AT+CDNSGIP=nowhere.example"), "\r\nOK\r\n");
    let nowhere = r.lookup_of("nowhere.example");
    assert_ne!(lab, nowhere);
    // Answers come in any order, each to its own lookup, once.
    assert_eq!(
        r.event_on(nowhere, NetEventKind::Resolved(None)),
        "\r\n+CDNSGIP: 0,10\r\n"
    );
    let ip = "127.0.0.1".parse().unwrap();
    assert_eq!(
        r.event_on(lab, NetEventKind::Resolved(Some(ip))),
        "\r\n+CDNSGIP: 1,\"TCPlab.openluat.com\",\"127.0.0.1\"\r\n"
    );
    assert_eq!(r.event_on(lab, NetEventKind::Resolved(Some(ip))), "");
    let v6 = "::1".parse().unwrap();
    r.send("AT+CDNSGIP=\"localhost\"");
    let link = r.lookup_of("localhost");
    assert_eq!(
        r.event_on(link, NetEventKind::Resolved(Some(v6))),
        "\r\n+CDNSGIP: 1,\"localhost\",\"::1\"\r\n"
    );
}

/// Without a PDP context there is no DNS server to ask: `ERROR`, nothing asked of the network
/// (S14); with the context back, lookups work again.
#[test]
fn cdnsgip_without_a_pdp_context_is_error() {
    let mut r = rig();
    r.script(&[("AT+CGACT=0,1", "\r\nOK\r\n")]);
    let before = r.net.len();
    assert_eq!(
        r.send("AT+CDNSGIP=\"tcplab.openluat.com\""),
        "\r\nERROR\r\n"
    );
    assert_eq!(r.net.len(), before);
    r.script(&[("AT+CGACT=1,1", "\r\nOK\r\n")]);
    assert_eq!(r.send("AT+CDNSGIP=\"tcplab.openluat.com\""), "\r\nOK\r\n");
    r.lookup_of("tcplab.openluat.com");
    // The network takes the context for a minute.
    let (_, back) = r.pdn_deact_for(60);
    let asked = r.net.len();
    assert_eq!(
        r.send("AT+CDNSGIP=\"tcplab.openluat.com\""),
        "\r\nERROR\r\n"
    );
    assert_eq!(r.net.len(), asked);
    r.fire(back);
    assert_eq!(r.send("AT+CDNSGIP=\"tcplab.openluat.com\""), "\r\nOK\r\n");
}

/// CDNSGIP.md: set and test forms only, one name of 1 to 128 bytes; at most 8 lookups on their
/// way (S14).
#[test]
fn cdnsgip_malformed_is_error() {
    let mut r = rig();
    let long = format!("AT+CDNSGIP=\"{}\"", "a".repeat(129));
    let max = format!("AT+CDNSGIP=\"{}\"", "a".repeat(128));
    r.all_answer(
        "\r\nERROR\r\n",
        &[
            "AT+CDNSGIP",
            "AT+CDNSGIP?",
            "AT+CDNSGIP=",
            "AT+CDNSGIP=\"\"",
            "AT+CDNSGIP=\"a.com\",\"b.com\"",
            &long,
        ],
    );
    assert!(!r
        .net
        .iter()
        .any(|q| matches!(q, NetRequest::Resolve { .. })));
    assert_eq!(r.send(&max), "\r\nOK\r\n");
    for _ in 1..8 {
        assert_eq!(r.send("AT+CDNSGIP=a.com"), "\r\nOK\r\n");
    }
    assert_eq!(r.send("AT+CDNSGIP=a.com"), "\r\nERROR\r\n");
    let link = r.lookup_of("a.com");
    r.event_on(link, NetEventKind::Resolved(None));
    assert_eq!(r.send("AT+CDNSGIP=a.com"), "\r\nOK\r\n");
}
