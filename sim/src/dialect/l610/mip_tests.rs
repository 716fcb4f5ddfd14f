//! The L610's MIP* sockets through the [`Engine`], bytes in and network events faked: each
//! answer is the text the sources in `mip.rs` print.

use super::*;
use crate::dialect::rig::{sock_data, Rig};
use crate::net::{CloseReason, LinkId, NetEventKind, NetRequest, SockProto};

const PEER: &str = "192.0.2.7:9000";

/// A fresh L610 (commands ended with CR LF) with its data call up.
fn called() -> Rig {
    Rig::new(DialectKind::L610).crlf().set_up(Rig::called)
}

/// A called L610 with socket `id` open (`proto` 0 TCP, 1 UDP): the rig and the socket's link.
fn socket(id: u32, proto: u32) -> (Rig, LinkId) {
    let mut r = called();
    let link = r.open_socket(id, proto);
    (r, link)
}

impl Rig {
    /// Opens socket `id` to `echo.test:7` with `proto` (0 TCP, 1 UDP) and connects it.
    fn open_socket(&mut self, id: u32, proto: u32) -> LinkId {
        assert_eq!(
            self.send(&format!("AT+MIPOPEN={id},,\"echo.test\",7,{proto}")),
            "\r\nOK\r\n"
        );
        let (link, ..) = self.last_socket();
        assert_eq!(
            self.event_on(link, NetEventKind::Connected),
            format!("\r\n+MIPOPEN: {id},1\r\n")
        );
        link
    }

    fn last_socket(&self) -> (LinkId, SockProto, String, u16, bool) {
        self.sockets().pop().expect("a SockOpen request")
    }
}

fn data(bytes: &[u8]) -> NetEventKind {
    sock_data(PEER, bytes)
}

/// Binary on purpose: line ends, Ctrl-Z, ESC, NUL, `>` and a fake `OK`. (Not starting with
/// LF: after a command ended by a lone CR the framer takes a first LF as the line end's:
/// fixtures/DIVERGENCES.md A23.)
const BINARY: &[u8] = b"\x00\n\r\x1a\x1b>\r\nOK\r\n\xff+MIPRTCP: 1";

#[test]
fn open_a_tcp_socket_and_list_the_free_ids() {
    let mut r = called();
    r.script(&[
        ("AT+MIPOPEN?", "\r\n+MIPOPEN: 1,2,3,4,5,6\r\n\r\nOK\r\n"),
        ("AT+MIPOPEN=1,,\"echo.test\",7,0", "\r\nOK\r\n"),
    ]);
    let (link, proto, host, port, tls) = r.last_socket();
    assert_eq!(
        (proto, host.as_str(), port, tls),
        (SockProto::Tcp, "echo.test", 7, false)
    );
    // Still opening: the id is taken, but not open.
    r.script(&[
        ("AT+MIPOPEN?", "\r\n+MIPOPEN: 2,3,4,5,6\r\n\r\nOK\r\n"),
        ("AT+MIPCLOSE?", "\r\n+MIPCLOSE: 0\r\n\r\nOK\r\n"),
    ]);
    assert_eq!(
        r.event_on(link, NetEventKind::Connected),
        "\r\n+MIPOPEN: 1,1\r\n"
    );
    r.script(&[
        ("AT+MIPCLOSE?", "\r\n+MIPCLOSE: 1\r\n\r\nOK\r\n"),
        ("AT+MIPSEND?", "\r\n+MIPSEND: 1,2048\r\n\r\nOK\r\n"),
    ]);
}

#[test]
fn no_socket_without_the_data_call_or_on_a_used_id() {
    let mut r = Rig::new(DialectKind::L610).crlf();
    assert_eq!(r.send("AT+MIPOPEN=1,,\"echo.test\",7,0"), "\r\nERROR\r\n");
    assert!(r.net.is_empty());
    let mut r = called();
    r.open_socket(1, 0);
    assert_eq!(r.send("AT+MIPOPEN=1,,\"echo.test\",7,0"), "\r\nERROR\r\n");
    r.send("AT+CMEE=1");
    assert_eq!(
        r.send("AT+MIPOPEN=1,,\"echo.test\",7,0"),
        "\r\n+CME ERROR: 3\r\n"
    );
}

#[test]
fn malformed_opens_and_sends_are_errors() {
    let mut r = called();
    r.all_answer(
        "\r\nERROR\r\n",
        &[
            "AT+MIPOPEN=0,,\"h\",7,0",
            "AT+MIPOPEN=7,,\"h\",7,0",
            "AT+MIPOPEN=1,,\"h\",0,0",
            "AT+MIPOPEN=1,,\"h\",65536,0",
            "AT+MIPOPEN=1,,\"h\",7,3",
            "AT+MIPOPEN=1,,\"\",7,0",
            "AT+MIPOPEN=1,x,\"h\",7,0",
            "AT+MIPOPEN=1,,\"h\",7",
            "AT+MIPOPEN",
            "AT+MIPCLOSE",
            "AT+MIPCLOSE=1,9",
            "AT+MIPPUSH",
            "AT+MIPSEND",
            "AT+GTSET=\"IPRFMT\",3",
            "AT+GTSET=\"NOSUCH\",1",
        ],
    );
    assert!(r.net.is_empty(), "{:?}", r.net);
    r.open_socket(1, 0);
    r.all_answer(
        "\r\nERROR\r\n",
        &[
            "AT+MIPSEND=1,0",
            "AT+MIPSEND=1,2049",
            "AT+MIPSEND=1,\"ABC\"",
            "AT+MIPSEND=1,\"XY\"",
            "AT+MIPSEND=1,5,5",
        ],
    );
    // Still in command mode: nothing was taken as data.
    assert_eq!(r.send("AT"), "\r\nOK\r\n");
}

/// The length form takes exactly `<len>` bytes, any values, with each line end after the
/// command line.
#[test]
fn length_form_sends_binary_byte_for_byte_with_every_line_end() {
    for eol in [&b"\r\n"[..], b"\r", b"\n"] {
        let (mut r, link) = socket(1, 0);
        let mut input = format!("AT+MIPSEND=1,{}", BINARY.len()).into_bytes();
        input.extend_from_slice(eol);
        assert_eq!(r.raw(&input), "\r\n>", "{eol:?}");
        assert_eq!(
            r.raw(BINARY),
            format!("\r\n+MIPSEND: 1,0,{}\r\n\r\nOK\r\n", 2048 - BINARY.len()),
            "{eol:?}"
        );
        assert_eq!(r.sent_on(link), vec![BINARY.to_vec()], "{eol:?}");
        assert_eq!(
            r.event_on(link, NetEventKind::SockSent(BINARY.len())),
            "\r\n+MIPPUSH: 1,0\r\n"
        );
        assert_eq!(r.send("AT"), "\r\nOK\r\n");
    }
}

#[test]
fn length_form_split_into_single_bytes() {
    let (mut r, link) = socket(2, 0);
    let payload: Vec<u8> = (0..=255).collect();
    assert_eq!(r.raw(b"AT+MIPSEND=2,256\r"), "\r\n>");
    let mut out = Vec::new();
    for b in &payload {
        out.extend(r.raw_bytes(&[*b]));
    }
    assert_eq!(out, b"\r\n+MIPSEND: 2,0,1792\r\n\r\nOK\r\n");
    assert_eq!(r.sent_on(link), vec![payload]);
}

#[test]
fn open_form_ends_at_ctrl_z_and_hex_form_waits_for_mippush() {
    let (mut r, link) = socket(1, 0);
    assert_eq!(r.send("AT+MIPSEND=1"), "\r\n>");
    assert_eq!(r.raw(b"hello\x1a"), "\r\n+MIPSEND: 1,0,2043\r\n\r\nOK\r\n");
    assert_eq!(r.sent_on(link), vec![b"hello".to_vec()]);

    assert_eq!(
        r.send("AT+MIPSEND=1,\"00FF0d0A\""),
        "\r\n+MIPSEND: 1,0,2044\r\n\r\nOK\r\n"
    );
    assert_eq!(r.sent_on(link).len(), 1, "buffered, not sent");
    r.script(&[
        ("AT+MIPSEND?", "\r\n+MIPSEND: 1,2044\r\n\r\nOK\r\n"),
        ("AT+MIPPUSH=1", "\r\n+MIPPUSH: 1,0\r\n\r\nOK\r\n"),
    ]);
    assert_eq!(r.sent_on(link)[1], vec![0x00, 0xff, 0x0d, 0x0a]);
    assert_eq!(r.send("AT+MIPPUSH=1"), "\r\n+MIPPUSH: 1,2\r\n\r\nOK\r\n");
}

#[test]
fn received_data_in_each_iprfmt() {
    let (mut r, link) = socket(1, 0);
    // 0, the default: hex.
    assert_eq!(
        r.event_on(link, data(b"\x00\x1aOK")),
        "\r\n+MIPRTCP: 1,4,001A4F4B\r\n"
    );
    assert_eq!(r.send("AT+GTSET=\"IPRFMT\",2"), "\r\nOK\r\n");
    let mut want = b"\r\n+MIPRTCP: 1,".to_vec();
    want.extend(format!("{},", BINARY.len()).as_bytes());
    want.extend(BINARY);
    want.extend(b"\r\n");
    assert_eq!(r.event_bytes(link, data(BINARY)), want);
    assert_eq!(r.send("AT+GTSET=\"IPRFMT\",1"), "\r\nOK\r\n");
    assert_eq!(r.event_bytes(link, data(BINARY)), BINARY);
    assert_eq!(
        r.send("AT+GTSET?"),
        "\r\n+GTSET: \"IPRFMT\",1\r\n\r\nOK\r\n"
    );
}

#[test]
fn udp_datagrams_name_their_sender() {
    let (mut r, link) = socket(3, 1);
    assert_eq!(r.last_socket().1, SockProto::Udp);
    assert_eq!(r.raw(b"AT+MIPSEND=3,4\r\n"), "\r\n>");
    r.raw(b"ping");
    assert_eq!(r.sent_on(link), vec![b"ping".to_vec()]);
    assert_eq!(
        r.event_on(link, data(b"pong")),
        "\r\n+MIPRUDP: 192.0.2.7,9000,3,4,706F6E67\r\n"
    );
}

#[test]
fn peer_close_gives_mipstat_and_a_later_send_fails() {
    let (mut r, link) = socket(1, 0);
    assert_eq!(
        r.event_on(link, NetEventKind::Closed(CloseReason::PeerClosed)),
        "\r\n+MIPSTAT: 1,2\r\n"
    );
    r.script(&[
        ("AT+MIPSEND=1,5", "\r\nERROR\r\n"),
        ("AT+MIPCLOSE?", "\r\n+MIPCLOSE: 0\r\n\r\nOK\r\n"),
    ]);
    r.send("AT+CMEE=1");
    assert_eq!(r.send("AT+MIPSEND=1,5"), "\r\n+CME ERROR: 3\r\n");
    // The id is free again.
    let again = r.open_socket(1, 0);
    assert_ne!(again, link);
    assert_eq!(
        r.event_on(
            again,
            NetEventKind::Closed(CloseReason::Reset("rst".into()))
        ),
        "\r\n+MIPSTAT: 1,1\r\n"
    );
    // A late event from the old link is ignored.
    assert_eq!(r.event_on(link, data(b"late")), "");
}

#[test]
fn failed_connect_and_local_close() {
    let mut r = called();
    r.send("AT+MIPOPEN=1,,\"nowhere.test\",7,0");
    let (link, ..) = r.last_socket();
    assert_eq!(
        r.event_on(link, NetEventKind::ConnectFailed("refused".into())),
        "\r\n+MIPSTAT: 1,1\r\n"
    );
    assert_eq!(
        r.send("AT+MIPOPEN?"),
        "\r\n+MIPOPEN: 1,2,3,4,5,6\r\n\r\nOK\r\n"
    );
    let link = r.open_socket(1, 0);
    assert_eq!(r.send("AT+MIPCLOSE=1"), "\r\nOK\r\n\r\n+MIPCLOSE: 1,0\r\n");
    assert!(r.net.contains(&NetRequest::Close { link }));
    assert_eq!(r.send("AT+MIPCLOSE=1"), "\r\nERROR\r\n");
}

#[test]
fn six_sockets_at_once_then_none_free() {
    let mut r = called();
    let links: Vec<LinkId> = (1..=6).map(|id| r.open_socket(id, id % 2)).collect();
    r.script(&[
        ("AT+MIPOPEN?", "\r\n+MIPOPEN: 0\r\n\r\nOK\r\n"),
        ("AT+MIPCLOSE?", "\r\n+MIPCLOSE: 1,2,3,4,5,6\r\n\r\nOK\r\n"),
    ]);
    // Data goes to the socket it came from.
    assert_eq!(r.event_on(links[3], data(b"4")), "\r\n+MIPRTCP: 4,1,34\r\n");
    assert_eq!(
        r.event_on(links[4], data(b"5")),
        "\r\n+MIPRUDP: 192.0.2.7,9000,5,1,35\r\n"
    );
    // The data call ends: every socket breaks.
    let out = r.send("AT+MIPCALL=0");
    for id in 1..=6 {
        assert!(out.contains(&format!("+MIPSTAT: {id},1\r\n")), "{out}");
    }
    assert_eq!(
        r.send("AT+MIPOPEN?"),
        "\r\n+MIPOPEN: 1,2,3,4,5,6\r\n\r\nOK\r\n"
    );
}

#[test]
fn socket_closed_while_the_host_types_drops_the_data() {
    let (mut r, link) = socket(1, 0);
    assert_eq!(r.send("AT+MIPSEND=1,3"), "\r\n>");
    r.event_on(link, NetEventKind::Closed(CloseReason::PeerClosed));
    assert_eq!(r.raw(b"abc"), "\r\nERROR\r\n");
    assert!(r.sent_on(link).is_empty());
}

#[test]
fn mqtt_links_and_socket_links_do_not_mix() {
    let (_, link) = socket(1, 0);
    assert!(mip::Mip::owns(link));
    assert!(!mip::Mip::owns(1));
}

#[test]
fn mipdns_answers_an_address_that_opens_the_name() {
    let mut r = Rig::new(DialectKind::L610).crlf();
    assert_eq!(r.send("AT+MIPDNS=\"iot.example.com\",2"), "\r\nERROR\r\n");
    let mut r = called();
    r.script(&[
        (
            "AT+MIPDNS=\"iot.example.com\",2",
            "\r\n+MIPDNS: \"iot.example.com\",198.18.0.1\r\n\r\nOK\r\n",
        ),
        (
            "AT+MIPDNS=\"other.example.com\"",
            "\r\n+MIPDNS: \"other.example.com\",198.18.0.2\r\n\r\nOK\r\n",
        ),
    ]);
    // The same name, the same address; an address is its own answer.
    assert!(r
        .send("AT+MIPDNS=\"iot.example.com\"")
        .contains(",198.18.0.1\r\n"));
    assert!(r
        .send("AT+MIPDNS=\"10.1.2.3\"")
        .contains("\"10.1.2.3\",10.1.2.3\r\n"));
    r.send("AT+MIPOPEN=1,,\"198.18.0.1\",7,0");
    assert_eq!(r.last_socket().2, "iot.example.com");
    r.send("AT+MIPOPEN=2,,\"198.18.0.9\",7,0");
    assert_eq!(
        r.last_socket().2,
        "198.18.0.9",
        "an address no name stands for"
    );
    assert_eq!(r.send("AT+MIPDNS=\"h\",3"), "\r\nERROR\r\n");
}
