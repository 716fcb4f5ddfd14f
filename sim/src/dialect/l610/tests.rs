//! The L610 driven through the [`Engine`] with bytes in and network events faked: every answer
//! is checked against the text seed 002 section 3.3 prints.

use super::*;
use crate::dialect::rig::{message, publish, Rig};
use crate::dialect::{Effect, Engine};
use crate::net::{CloseReason, ConnectReturnCode, MqttOp, NetEventKind, NetRequest, QoS};

/// A fresh L610 with its data call up.
fn called() -> Rig {
    Rig::new(DialectKind::L610).set_up(Rig::called)
}

/// A fresh L610 through `+MQTTOPEN: 1,1` as seed 002 section 3.3 does it.
fn open() -> Rig {
    Rig::new(DialectKind::L610).set_up(Rig::open)
}

#[test]
fn boot_urcs_come_at_power_on() {
    let mut e = Engine::new(Box::new(L610::new(Identity::default())), true);
    let mut r = Rig::new(DialectKind::L610);
    let text = r.take(e.boot());
    assert_eq!(text, "\r\nAT command ready\r\n\r\n+SIM READY\r\n");
}

#[test]
fn echo_is_on_by_default_and_ate0_turns_it_off() {
    // Seed 002 section 3.3: `AT` is echoed, `ATE0` is echoed once, then nothing is.
    let mut e = Engine::new(Box::new(L610::new(Identity::default())), true);
    for (input, answer) in [
        (&b"AT\r"[..], &b"AT\r\r\nOK\r\n"[..]),
        (b"ATE0\r", b"ATE0\r\r\nOK\r\n"),
        (b"AT\r", b"\r\nOK\r\n"),
        (b"ATE1\r", b"\r\nOK\r\n"),
        (b"AT\r", b"AT\r\r\nOK\r\n"),
    ] {
        assert_eq!(e.feed(input), vec![Effect::Uart(answer.to_vec())]);
    }
}

#[test]
fn basic_answers_match_seed_002_section_3_3() {
    let mut r = Rig::new(DialectKind::L610);
    r.script(&[
        ("AT", "\r\nOK\r\n"),
        ("AT+GTRAT=6,3,2", "\r\nOK\r\n"),
        ("AT+GTRAT?", "\r\n+GTRAT: 6,3,2\r\n\r\nOK\r\n"),
        ("AT+CFUN=1", "\r\nOK\r\n"),
        ("AT+CFUN?", "\r\n+CFUN: 1\r\n\r\nOK\r\n"),
        ("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n"),
        ("AT+CIMI?", "\r\n+CIMI: 460046616008063\r\n\r\nOK\r\n"),
        ("AT+CIMI", "\r\n+CIMI: 460046616008063\r\n\r\nOK\r\n"),
        ("AT+CGDCONT=1,\"IP\",\"cmnet\"", "\r\nOK\r\n"),
        (
            "AT+CGDCONT?",
            "\r\n+CGDCONT: 1,\"IP\",\"cmnet\"\r\n\r\nOK\r\n",
        ),
        ("AT+CSQ?", "\r\n+CSQ: 25,99\r\n\r\nOK\r\n"),
        ("AT+CSQ", "\r\n+CSQ: 25,99\r\n\r\nOK\r\n"),
        (
            "AT+COPS?",
            "\r\n+COPS: 0,0,\"CHINA MOBILE\",7\r\n\r\nOK\r\n",
        ),
        ("AT+CGREG?", "\r\n+CGREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CEREG?", "\r\n+CEREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CREG?", "\r\n+CREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CREG=2", "\r\nOK\r\n"),
        // With n = 2 the cell follows (27.007 section 7.2; the manual's example values).
        (
            "AT+CREG?",
            "\r\n+CREG: 2,1,\"1863\",\"0183db22\",7\r\n\r\nOK\r\n",
        ),
        ("AT+CGSN", "\r\n868488076771714\r\n\r\nOK\r\n"),
    ]);
}

#[test]
fn bad_parameters_answer_error() {
    let mut r = Rig::new(DialectKind::L610);
    r.all_answer(
        "\r\nERROR\r\n",
        &[
            "AT+GTRAT=x",
            "AT+CFUN=2",
            "AT+CFUN=9",
            "AT+CGDCONT=0,\"IP\",\"cmnet\"",
            "AT+CGDCONT=1,\"X25\",\"cmnet\"",
            "AT+CREG=3",
            "AT+CMEE=3",
            "AT+MIPCALL=2",
            "AT+MIPCALL",
            "AT+MQTTUSER=3,\"u\",\"p\"",
            "AT+MQTTUSER=1,\"u\"",
            &format!("AT+MQTTUSER=1,\"u\",\"p\",\"{}\"", "c".repeat(129)),
            "AT+MQTTUSER=1,\"u\",\"p\",\"\"",
            "AT+MQTTWILL=1,\"t\",3,0,\"x\"",
            "AT+MQTTWILL=1,\"t\",0,0,1025",
            "AT+MQTTOPEN=1,\"h\",0,0,60",
            "AT+MQTTOPEN=1,\"h\",1883,2,60",
            "AT+MQTTOPEN=1,\"h\",1883,0,301",
            "AT+MQTTOPEN=1,\"h\",1883,0,60,3",
            "AT+MQTTOPEN=1,\"\",1883,0,60",
            "AT+MQTTSUB=1,\"\",0",
            "AT+MQTTSUB=1,\"t\",3",
            "AT+MQTTPUB=1,\"t\",0,0,0",
            "AT+MQTTPUB=1,\"t\",0,0,1025",
            "AT+MQTTPUB=1,\"t\",0,2,\"x\"",
            "AT+MQTTCLOSE=0",
            "AT+GTSSLVER=5",
            "AT+GTSSLVER=0",
            "AT+GTSSLMODE=2",
            "AT+GTSSLFILE=\"OTHERFILE\",10",
            "AT+GTSSLFILE=\"CAFILE\",0",
            "AT+GTSSLFILE=\"CAFILE\",8193",
            // Seed 002 section 3.3's misprint is not a command.
            "AT+MQTTOOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",1883,0,60",
            "AT+BOGUS",
        ],
    );
    assert!(r.net.is_empty(), "{:?}", r.net);
}

#[test]
fn cmee_modes_follow_faq_4_1() {
    // Default 0: a bare ERROR; 1: the code; 2: the reason as text.
    let mut r = Rig::new(DialectKind::L610);
    r.script(&[
        ("AT+CMEE?", "\r\n+CMEE: 0\r\n\r\nOK\r\n"),
        ("AT+MQTTSUB=1,\"t\",0", "\r\nERROR\r\n"),
        ("AT+CMEE=1", "\r\nOK\r\n"),
        ("AT+MQTTSUB=1,\"t\",0", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CMEE=2", "\r\nOK\r\n"),
        (
            "AT+MQTTSUB=1,\"t\",0",
            "\r\n+CME ERROR: operation not allowed\r\n",
        ),
    ]);
}

#[test]
fn the_data_call_follows_seed_002() {
    let mut r = Rig::new(DialectKind::L610);
    assert_eq!(r.send("AT+MIPCALL?"), "\r\n+MIPCALL: 0\r\n\r\nOK\r\n");
    r.called();
    r.script(&[
        ("AT+MIPCALL?", "\r\n+MIPCALL: 1,10.104.48.68\r\n\r\nOK\r\n"),
        // A second call while one is up is refused (section 3.2).
        ("AT+MIPCALL=1", "\r\nERROR\r\n"),
        ("AT+MIPCALL=0", "\r\nOK\r\n\r\n+MIPCALL: 0\r\n"),
        ("AT+MIPCALL?", "\r\n+MIPCALL: 0\r\n\r\nOK\r\n"),
        ("AT+MIPCALL=0", "\r\nERROR\r\n"),
        // With an APN, as drivers of the family send it.
        (
            "AT+MIPCALL=1,\"CMNET\"",
            "\r\nOK\r\n\r\n+MIPCALL: 10.104.48.68\r\n",
        ),
        // The radio off: the call ends with `+MIPCALL: 0`.
        ("AT+MIPCALL=0", "\r\nOK\r\n\r\n+MIPCALL: 0\r\n"),
        ("AT+CFUN=0", "\r\nOK\r\n"),
        ("AT+CGREG?", "\r\n+CGREG: 0,0\r\n\r\nOK\r\n"),
        ("AT+MIPCALL=1", "\r\nOK\r\n\r\n+MIPCALL: 0\r\n"),
    ]);
    assert!(r.net.is_empty());
}

#[test]
fn mqttopen_before_mipcall_is_refused() {
    let mut r = Rig::new(DialectKind::L610);
    r.script(&[
        (
            "AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",1883,0,60",
            "\r\nERROR\r\n",
        ),
        ("AT+CMEE=1", "\r\nOK\r\n"),
        (
            "AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",1883,0,60",
            "\r\n+CME ERROR: 3\r\n",
        ),
    ]);
    assert!(r.net.is_empty());
}

/// Seed 002 section 3.3 through `+MQTTOPEN: 1,1`, with its will.
fn seed_002_open() -> Rig {
    let mut r = Rig::new(DialectKind::L610);
    assert_eq!(
        r.send("AT+MQTTWILL=1,\"test1\",0,0,\"disconnect unexpectedly\""),
        "\r\nOK\r\n"
    );
    r.open();
    r
}

#[test]
fn the_plain_flow_of_seed_002_connects_with_its_user_and_will() {
    let r = seed_002_open();
    let Some(NetRequest::Open { host, port, .. }) = r.net.first() else {
        panic!("{:?}", r.net)
    };
    assert_eq!(
        (host.as_str(), *port),
        ("g510.mqtt.iot.bj.baidubce.com", 1883)
    );
    let Some(MqttOp::Connect(c)) = r.last_op() else {
        panic!("{:?}", r.net)
    };
    // No client id string in AT+MQTTUSER: the IMEI.
    assert_eq!(c.client_id, "868488076771714");
    assert_eq!(c.username.as_deref(), Some("g510/test1"));
    assert_eq!(
        c.password.as_deref(),
        Some("LeKH43ojswwzINS15EGImf5JluPkCv9cPnu1DQUxGOk=")
    );
    assert_eq!((c.clean_session, c.keepalive), (false, 60));
    let will = c.will.as_ref().expect("the will");
    assert_eq!(
        (
            will.topic.as_str(),
            &will.payload[..],
            will.qos,
            will.retain
        ),
        (
            "test1",
            &b"disconnect unexpectedly"[..],
            QoS::AtMostOnce,
            false
        )
    );
}

#[test]
fn the_plain_flow_of_seed_002_sends_the_right_packets() {
    let mut r = seed_002_open();
    r.subscribes(
        b"AT+MQTTSUB=1,\"test1\",0\r",
        "\r\nOK\r\n",
        "test1",
        "\r\n+MQTTSUB: 1,1\r\n",
    );
    // QoS 0: `+MQTTPUB: 1,1` right after OK; the broker's copy comes back.
    r.round_trip(
        b"AT+MQTTPUB=1,\"test1\",0,0,\"123\"\r",
        "\r\nOK\r\n\r\n+MQTTPUB: 1,1\r\n",
        publish("test1", "123"),
        message("test1", QoS::AtMostOnce, "123"),
        "\r\n+MQTTMSG: 1, 0, test1, 123\r\n",
    );
    // The length form: `>`, exactly 5 raw bytes, then OK.
    assert_eq!(r.send("AT+MQTTPUB=1,\"test1\",0,0,5"), "\r\n>");
    assert_eq!(r.raw(b"\"12"), "");
    r.round_trip(
        b"3\"",
        "\r\nOK\r\n\r\n+MQTTPUB: 1,1\r\n",
        publish("test1", "\"123\""),
        message("test1", QoS::AtMostOnce, "\"123\""),
        "\r\n+MQTTMSG: 1, 0, test1, \"123\"\r\n",
    );
    r.round_trip(
        b"AT+MQTTUNSUB=1,\"test1\"\r",
        "\r\nOK\r\n",
        MqttOp::Unsubscribe(vec!["test1".into()]),
        NetEventKind::UnsubAck,
        "\r\n+MQTTUNSUB: 1,1\r\n",
    );
    assert_eq!(
        r.send("AT+MQTTCLOSE=1"),
        "\r\nOK\r\n\r\n+MQTTCLOSE: 1,1\r\n"
    );
    let link = r.last_link();
    assert_eq!(
        r.net[r.net.len() - 2..],
        [
            NetRequest::Mqtt {
                link,
                op: MqttOp::Disconnect
            },
            NetRequest::Close { link }
        ]
    );
    assert_eq!(r.send("AT+MIPCALL=0"), "\r\nOK\r\n\r\n+MIPCALL: 0\r\n");
}

#[test]
fn qos_1_and_2_answer_on_their_acks() {
    let mut r = open();
    assert_eq!(r.send("AT+MQTTPUB=1,\"t\",1,0,\"a\""), "\r\nOK\r\n");
    assert_eq!(r.event(NetEventKind::PubAck), "\r\n+MQTTPUB: 1,1\r\n");
    assert_eq!(r.send("AT+MQTTPUB=1,\"t\",2,1,\"b\""), "\r\nOK\r\n");
    assert_eq!(r.event(NetEventKind::PubRec), "");
    assert_eq!(r.event(NetEventKind::PubComp), "\r\n+MQTTPUB: 1,1\r\n");
    assert_eq!(
        r.event(message("in", QoS::AtLeastOnce, "x, y")),
        "\r\n+MQTTMSG: 1, 1, in, x, y\r\n"
    );
    // A refused filter.
    assert_eq!(r.send("AT+MQTTSUB=1,\"#\",2"), "\r\nOK\r\n");
    assert_eq!(
        r.event(NetEventKind::SubAck(vec![None])),
        "\r\n+MQTTSUB: 1,0\r\n"
    );
}

#[test]
fn wrong_password_gives_mqttopen_0_and_the_cme_code_when_asked() {
    let mut r = called();
    assert_eq!(r.send("AT+MQTTUSER=1,\"root\",\"wrong\""), "\r\nOK\r\n");
    use ConnectReturnCode::*;
    assert_eq!(r.reopen(BadUserNamePassword), "\r\n+MQTTOPEN: 1,0\r\n");
    let link = r.last_link();
    assert_eq!(r.net.last(), Some(&NetRequest::Close { link }));
    // The broker's close that follows is not news.
    assert_eq!(r.event(NetEventKind::Closed(CloseReason::PeerClosed)), "");
    assert_eq!(r.send("AT+MQTTPUB=1,\"t\",0,0,\"x\""), "\r\nERROR\r\n");
    // With AT+CMEE=1 the code follows, with 2 the reason.
    for (cmee, code, cme) in [
        (1, RefusedProtocolVersion, "700"),
        (1, BadClientId, "701"),
        (1, ServiceUnavailable, "702"),
        (1, BadUserNamePassword, "703"),
        (1, NotAuthorized, "704"),
        (2, BadUserNamePassword, "MQTT bad user name or password"),
    ] {
        assert_eq!(r.send(&format!("AT+CMEE={cmee}")), "\r\nOK\r\n");
        assert_eq!(
            r.reopen(code),
            format!("\r\n+MQTTOPEN: 1,0\r\n\r\n+CME ERROR: {cme}\r\n")
        );
    }
}

#[test]
fn tcp_failure_and_link_loss() {
    let mut r = called();
    assert_eq!(r.send("AT+MQTTOPEN=1,\"h\",1883,1,60"), "\r\nOK\r\n");
    assert_eq!(
        r.event(NetEventKind::ConnectFailed("refused".into())),
        "\r\n+MQTTOPEN: 1,0\r\n"
    );
    r.open_again();
    assert_eq!(
        r.event(NetEventKind::Closed(CloseReason::KeepaliveTimeout)),
        "\r\n+MQTTBREAK: 1,1\r\n"
    );
    r.script(&[
        ("AT+MQTTSUB=1,\"t\",0", "\r\nERROR\r\n"),
        ("AT+MQTTCLOSE=1", "\r\nERROR\r\n"),
    ]);
    // A late event from the old link is ignored.
    assert_eq!(r.event(NetEventKind::UnsubAck), "");
}

#[test]
fn a_second_open_on_the_same_client_is_refused_and_two_clients_coexist() {
    let mut r = open();
    let first = r.last_link();
    r.script(&[
        ("AT+MQTTOPEN=1,\"h\",1883,1,60", "\r\nERROR\r\n"),
        ("AT+MQTTOPEN?", "\r\n+MQTTOPEN: 1\r\n\r\nOK\r\n"),
        ("AT+MQTTUSER=2,\"u\",\"p\",\"second\"", "\r\nOK\r\n"),
        ("AT+MQTTOPEN=2,\"h\",1883,1,60", "\r\nOK\r\n"),
    ]);
    let second = r.last_link();
    assert_ne!(first, second);
    r.event_on(second, NetEventKind::Connected);
    let Some(MqttOp::Connect(c)) = r.last_op() else {
        panic!()
    };
    assert_eq!(c.client_id, "second");
    assert_eq!(
        r.event_on(second, NetEventKind::ConnAck(ConnectReturnCode::Success)),
        "\r\n+MQTTOPEN: 2,1\r\n"
    );
    assert_eq!(
        r.event_on(first, message("a", QoS::AtMostOnce, "1")),
        "\r\n+MQTTMSG: 1, 0, a, 1\r\n"
    );
    assert_eq!(
        r.event_on(second, NetEventKind::Closed(CloseReason::PeerClosed)),
        "\r\n+MQTTBREAK: 2,1\r\n"
    );
    assert_eq!(
        r.send("AT+MQTTUSER?"),
        "\r\n+MQTTUSER: 1,\"g510/test1\",\"LeKH43ojswwzINS15EGImf5JluPkCv9cPnu1DQUxGOk=\",\"868488076771714\"\r\n\
         \r\n+MQTTUSER: 2,\"u\",\"p\",\"second\"\r\n\r\nOK\r\n"
    );
}

#[test]
fn publish_while_closed_is_refused_in_both_forms() {
    let mut r = called();
    r.script(&[
        ("AT+MQTTPUB=1,\"test1\",0,0,\"123\"", "\r\nERROR\r\n"),
        // No prompt: the length form is refused before any data is taken.
        ("AT+MQTTPUB=1,\"test1\",0,0,5", "\r\nERROR\r\n"),
        ("AT", "\r\nOK\r\n"),
    ]);
    assert!(r.net.iter().all(|n| !matches!(n, NetRequest::Mqtt { .. })));
}

#[test]
fn the_link_breaking_during_a_prompted_payload_is_reported_after_it() {
    let mut r = open();
    assert_eq!(r.send("AT+MQTTPUB=1,\"t\",0,0,3"), "\r\n>");
    assert_eq!(
        r.event(NetEventKind::Closed(CloseReason::PeerClosed)),
        "\r\n+MQTTBREAK: 1,1\r\n"
    );
    // The 3 bytes are still taken as the payload (not as a command), then refused.
    assert_eq!(r.raw(b"AT\r"), "\r\nERROR\r\n");
}

#[test]
fn mipcall_0_and_pdn_deactivation_break_open_clients() {
    let mut r = open();
    let link = r.last_link();
    assert_eq!(
        r.send("AT+MIPCALL=0"),
        "\r\nOK\r\n\r\n+MIPCALL: 0\r\n\r\n+MQTTBREAK: 1,2\r\n"
    );
    assert_eq!(r.net.last(), Some(&NetRequest::Close { link }));

    let mut r = open();
    let link = r.last_link();
    assert_eq!(
        r.fault(Fault::PDN_DEACT),
        "\r\n+MIPCALL: 0\r\n\r\n+MQTTBREAK: 1,2\r\n"
    );
    assert_eq!(r.net.last(), Some(&NetRequest::Close { link }));
    assert_eq!(r.send("AT+MIPCALL?"), "\r\n+MIPCALL: 0\r\n\r\nOK\r\n");
    // Without a call the fault shows nothing.
    assert_eq!(r.fault(Fault::PDN_DEACT), "");
}

/// Seed 002 section 3.3, the certificate part: TLS 1.2, verifying, the three files loaded.
fn seed_002_tls_files() -> Rig {
    let mut r = Rig::new(DialectKind::L610);
    // Seed 002 section 3.3, the certificate part.
    r.script(&[
        ("AT+GTSSLVER?", "\r\n+GTSSLVER: 2\r\n\r\nOK\r\n"),
        ("AT+GTSSLVER=4", "\r\nOK\r\n"),
        ("AT+GTSSLVER?", "\r\n+GTSSLVER: 4\r\n\r\nOK\r\n"),
        ("AT+GTSSLMODE?", "\r\n+GTSSLMODE: 0\r\n\r\nOK\r\n"),
        ("AT+GTSSLMODE=1", "\r\nOK\r\n"),
        ("AT+GTSSLMODE?", "\r\n+GTSSLMODE: 1\r\n\r\nOK\r\n"),
        ("AT+GTSSLERR?", "\r\n+GTSSLERR: 0\r\n\r\nOK\r\n"),
    ]);
    for (name, body) in [
        (
            "CAFILE",
            &b"-----BEGIN CERTIFICATE-----\r\nAT\r\nOK\r\n"[..],
        ),
        ("KEYFILE", b"-----BEGIN PRIVATE KEY-----\n\0\x1a>"),
        ("TRUSTFILE", b"root"),
    ] {
        assert_eq!(
            r.send(&format!("AT+GTSSLFILE=\"{name}\", {}", body.len())),
            "\r\n>"
        );
        assert_eq!(r.raw(body), "\r\nOK\r\n", "{name}");
    }
    r
}

/// The stored bytes are exactly those sent (no command was taken from them).
#[test]
fn gtsslfile_stores_exactly_the_bytes_sent() {
    let ssl = {
        let mut l = L610::new(Identity::default());
        let mut out = Out::default();
        l.on_command(
            crate::at::parse_line(b"AT+GTSSLFILE=\"CAFILE\",4").unwrap(),
            &mut out,
        );
        l.on_data(b"ab\r\n".to_vec(), &mut out);
        l.ssl.summary()
    };
    assert!(ssl.contains("client cert 4 B"), "{ssl}");
}

#[test]
fn tls_settings_drive_the_tls_link_and_gtsslerr() {
    let mut r = seed_002_tls_files();
    r.called();
    // Port 8883 without a flag (the guide's log) asks for TLS with the loaded files.
    assert_eq!(
        r.send("AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",8883,0,60"),
        "\r\nOK\r\n"
    );
    let Some(NetRequest::Open {
        tls: Some(tls),
        port: 8883,
        ..
    }) = r.net.last().cloned()
    else {
        panic!("a TLS open: {:?}", r.net)
    };
    assert_eq!(tls.verify, crate::tls::Verify::Peer);
    assert_eq!(
        tls.ca_pem.as_deref(),
        Some(&b"root"[..]),
        "TRUSTFILE verifies the server"
    );
    assert_eq!(
        tls.client_cert_pem.as_deref(),
        Some(&b"-----BEGIN CERTIFICATE-----\r\nAT\r\nOK\r\n"[..]),
        "CAFILE is our certificate"
    );
    assert_eq!(
        tls.client_key_pem.as_deref(),
        Some(&b"-----BEGIN PRIVATE KEY-----\n\0\x1a>"[..])
    );
    assert_eq!(tls.server_name, "g510.mqtt.iot.bj.baidubce.com");
    assert_eq!(
        tls.versions,
        (crate::tls::TlsVersion::Tls12, crate::tls::TlsVersion::Tls12)
    );
    let link = r.last_link();
    assert_eq!(
        r.event_on(
            link,
            NetEventKind::ConnectFailed("invalid peer certificate: UnknownIssuer".into())
        ),
        "\r\n+MQTTOPEN: 1,0\r\n"
    );
    assert_eq!(r.send("AT+GTSSLERR?"), "\r\n+GTSSLERR: 1\r\n\r\nOK\r\n");
    // A version the simulator cannot speak fails like a handshake, before any connect.
    r.net.clear();
    r.script(&[
        ("AT+GTSSLVER=2", "\r\nOK\r\n"),
        (
            "AT+MQTTOPEN=1,\"h\",1883,0,60,2",
            "\r\nOK\r\n\r\n+MQTTOPEN: 1,0\r\n",
        ),
    ]);
    assert!(r.net.is_empty(), "nothing opened: {:?}", r.net);
    r.script(&[
        ("AT+GTSSLERR?", "\r\n+GTSSLERR: 2\r\n\r\nOK\r\n"),
        // An explicit 0 on 8883 is plain.
        ("AT+MQTTOPEN=1,\"h\",8883,0,60,0", "\r\nOK\r\n"),
    ]);
    assert!(matches!(
        r.net.last(),
        Some(NetRequest::Open {
            port: 8883,
            tls: None,
            ..
        })
    ));
}

#[test]
fn verifying_without_a_trust_file_fails_with_its_own_code() {
    let mut r = called();
    r.script(&[
        ("AT+GTSSLVER=4", "\r\nOK\r\n"),
        ("AT+GTSSLMODE=1", "\r\nOK\r\n"),
        (
            "AT+MQTTOPEN=1,\"h\",8883,0,60",
            "\r\nOK\r\n\r\n+MQTTOPEN: 1,0\r\n",
        ),
        ("AT+GTSSLERR?", "\r\n+GTSSLERR: 4\r\n\r\nOK\r\n"),
    ]);
}

#[test]
fn topics_follow_mqtt_rules_as_on_the_air780e() {
    let mut r = called();
    // Numeric CME codes, so a parameter ERROR cannot be mistaken for a state error.
    r.script(&[
        ("AT+CMEE=1", "\r\nOK\r\n"),
        // A valid filter on a client not open is a state error.
        ("AT+MQTTSUB=1,\"a/+/b\",0", "\r\n+CME ERROR: 3\r\n"),
        // No wildcard in a topic name.
        ("AT+MQTTPUB=1,\"a/#\",0,0,\"x\"", "\r\nERROR\r\n"),
        // # only last
        ("AT+MQTTSUB=1,\"a/#/b\",0", "\r\nERROR\r\n"),
        // + only as a whole level
        ("AT+MQTTUNSUB=1,\"a+\"", "\r\nERROR\r\n"),
    ]);
    let long = "t".repeat(256);
    assert_eq!(
        r.send(&format!("AT+MQTTSUB=1,\"{long}\",0")),
        "\r\nERROR\r\n",
        "over 255 bytes"
    );
}

/// `fixtures/malformed/l610.tsv`: each row's answer (written by hand from the documented rules)
/// from a fresh module in the row's state, then `AT` still answers `OK`.
#[test]
fn malformed_input_table() {
    crate::dialect::rig::malformed_table(DialectKind::L610, |r, case| match case.state.as_str() {
        "idle" => {}
        "called" => r.called(),
        "connected" => r.open(),
        other => panic!("unknown state {other}"),
    });
}

/// Every command of the table has its README row and a malformed-input row.
#[test]
fn every_command_has_a_readme_row_and_malformed_rows() {
    crate::dialect::rig::documented(DialectKind::L610, super::commands::COMMANDS);
}
/// Fault `closed`/`reset` as the dialect sees it: `+MQTTBREAK: <id>,1` (link failed), and the
/// client can be opened again.
#[test]
fn peer_close_and_reset_break_the_client() {
    crate::dialect::rig::broken_each_way(open, "\r\n+MQTTBREAK: 1,1\r\n", Rig::open_again);
}

#[test]
fn pdn_deact_with_a_delay_fails_the_call_until_the_context_is_back() {
    open().pdn_outage(
        4,
        "\r\n+MIPCALL: 0\r\n\r\n+MQTTBREAK: 1,2\r\n",
        &[("AT+MIPCALL=1", "\r\nOK\r\n\r\n+MIPCALL: 0\r\n")],
        &[("AT+MIPCALL=1", "\r\nOK\r\n\r\n+MIPCALL: 10.104.48.68\r\n")],
    );
}

#[test]
fn deregister_register_sim_and_signal() {
    let mut r = open();
    assert_eq!(r.send("AT+CGREG=1"), "\r\nOK\r\n");
    assert_eq!(
        r.fault(crate::fault::Deregister),
        "\r\n+CGREG: 0\r\n\r\n+MIPCALL: 0\r\n\r\n+MQTTBREAK: 1,2\r\n"
    );
    r.script(&[
        ("AT+CGREG?", "\r\n+CGREG: 1,0\r\n\r\nOK\r\n"),
        ("AT+MIPCALL=1", "\r\nOK\r\n\r\n+MIPCALL: 0\r\n"),
    ]);
    assert_eq!(r.fault(crate::fault::Register), "\r\n+CGREG: 1\r\n");
    assert_eq!(
        r.send("AT+MIPCALL=1"),
        "\r\nOK\r\n\r\n+MIPCALL: 10.104.48.68\r\n"
    );

    assert_eq!(
        r.fault(crate::fault::SimRemoved),
        "\r\n+CGREG: 0\r\n\r\n+MIPCALL: 0\r\n"
    );
    assert_eq!(r.send("AT+CPIN?"), "\r\nERROR\r\n");
    assert_eq!(
        r.fault(crate::fault::SimInserted),
        "\r\n+SIM READY\r\n\r\n+CGREG: 1\r\n"
    );
    assert_eq!(r.send("AT+CPIN?"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    assert_eq!(r.fault(crate::fault::Signal(12)), "");
    assert_eq!(r.send("AT+CSQ"), "\r\n+CSQ: 12,99\r\n\r\nOK\r\n");
}

// --- issue 11: identity, clock, attach, address, reset ---

#[tokio::test(start_paused = true)]
async fn identity_clock_attach_and_address() {
    let identity = Identity {
        time: Some(1_784_530_296), // 2026/07/20,06:51:36
        ..Identity::for_dialect(crate::dialect::DialectKind::L610)
    };
    let mut r = Rig::with(Box::new(L610::new(identity)));
    r.script(&[
        ("ATI", "\r\nFibocom\r\n\r\nL610\r\n\r\n16000.1208.00.86.02.02\r\n\r\nOK\r\n"),
        ("AT+CGMI", "\r\n+CGMI: \"Fibocom\"\r\n\r\nOK\r\n"),
        ("AT+CGMM", "\r\n+CGMM: \"L610\"\r\n\r\nOK\r\n"),
        ("AT+CGMR", "\r\n+CGMR: \"16000.1208.00.86.02.02\"\r\n\r\nOK\r\n"),
        ("AT+CCID", "\r\n+CCID: 89860117831003134201\r\n\r\nOK\r\n"),
        // The L610's format (issue 11): +CCLK: "26/07/20,06:51:36+00".
        ("AT+CCLK?", "\r\n+CCLK: \"26/07/20,06:51:36+00\"\r\n\r\nOK\r\n"),
        ("AT+CBC", "\r\n+CBC: 0,80\r\n\r\nOK\r\n"),
        ("AT+CGATT?", "\r\n+CGATT: 1\r\n\r\nOK\r\n"),
        // No data call yet: no address.
        ("AT+CGPADDR=1", "\r\n+CGPADDR: 1\r\n\r\nOK\r\n"),
        ("AT+MIPCALL=1,\"cmnet\"", "\r\nOK\r\n\r\n+MIPCALL: 10.104.48.68\r\n"),
        ("AT+CGPADDR=1", "\r\n+CGPADDR: 1,\"10.104.48.68\"\r\n\r\nOK\r\n"),
        ("AT+CGPADDR", "\r\n+CGPADDR: 1,\"10.104.48.68\"\r\n\r\nOK\r\n"),
        ("AT+GTSSLFILE?", "\r\n+GTSSLFILE: CAFILE,0\r\n\r\n+GTSSLFILE: KEYFILE,0\r\n\r\n+GTSSLFILE: TRUSTFILE,0\r\n\r\nOK\r\n"),
        // Detaching ends the data call.
        ("AT+CGATT=0", "\r\nOK\r\n\r\n+MIPCALL: 0\r\n"),
        ("AT+CGATT?", "\r\n+CGATT: 0\r\n\r\nOK\r\n"),
        ("AT+CGATT=1", "\r\nOK\r\n"),
    ]);
}

#[test]
fn reset_and_power_cycle_boot_again() {
    let mut r = Rig::new(DialectKind::L610);
    r.script(&[
        ("AT+MIPCALL=1", "\r\nOK\r\n\r\n+MIPCALL: 10.104.48.68\r\n"),
        ("AT+MQTTUSER=1,\"root\",\"luat123456\"", "\r\nOK\r\n"),
        ("AT+MQTTOPEN=1,\"h\",1883,0,60", "\r\nOK\r\n"),
    ]);
    // AT+CFUN=15 (DIVERGENCES L22): OK, the link ends silently, the power-on URCs.
    r.closes(
        |r| r.send("AT+CFUN=15"),
        "\r\nOK\r\n\r\nAT command ready\r\n\r\n+SIM READY\r\n",
    );
    r.script(&[
        ("AT+MIPCALL?", "AT+MIPCALL?\r\r\n+MIPCALL: 0\r\n\r\nOK\r\n"),
        ("ATE0", "ATE0\r\r\nOK\r\n"),
        ("AT+CMEE=1", "\r\nOK\r\n"),
        ("AT&W", "\r\nOK\r\n"),
    ]);
    assert_eq!(
        r.fault(crate::fault::PowerCycle),
        "\r\nAT command ready\r\n\r\n+SIM READY\r\n"
    );
    r.script(&[
        // Saved with AT&W.
        ("AT+CMEE?", "\r\n+CMEE: 1\r\n\r\nOK\r\n"),
        (
            "AT+CFUN=1,1",
            "\r\nOK\r\n\r\nAT command ready\r\n\r\n+SIM READY\r\n",
        ),
        ("AT&F", "\r\nOK\r\n"),
        ("AT+CMEE?", "AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n"),
    ]);
}

// --- line ends as drivers send them (issue 10) ---

/// `AT+GTSSLFILE` and the length-form `AT+MQTTPUB` after each line end: the file and the
/// payload are exactly the bytes after the terminator (a lone CR swallows an LF right after
/// it, so that payload starts otherwise: see framer.rs), and the next command is answered.
#[test]
fn prompted_payloads_are_exact_with_every_line_end() {
    for eol in ["\r", "\r\n", "\n"] {
        let payload: &[u8] = if eol == "\r" {
            b"\r\n>\0\nX"
        } else {
            b"\n\r\n>\0X"
        };
        let mut r = Rig::new(DialectKind::L610);
        r.send("AT+GTSSLVER=4");
        let mut input = format!("AT+GTSSLFILE=\"TRUSTFILE\",{}{eol}", payload.len()).into_bytes();
        input.extend_from_slice(payload);
        input.extend_from_slice(format!("AT{eol}").as_bytes());
        assert_eq!(r.raw(&input), "\r\n>\r\nOK\r\n\r\nOK\r\n", "eol {eol:?}");
        r.called();
        r.send("AT+MQTTOPEN=1,\"h\",8883,0,60");
        let Some(NetRequest::Open { tls: Some(tls), .. }) = r.net.last().cloned() else {
            panic!("a TLS open: {:?}", r.net)
        };
        assert_eq!(tls.ca_pem.as_deref(), Some(payload), "eol {eol:?}");
        r.event(NetEventKind::Connected);
        assert_eq!(
            r.event(NetEventKind::ConnAck(ConnectReturnCode::Success)),
            "\r\n+MQTTOPEN: 1,1\r\n"
        );

        let mut input = format!("AT+MQTTPUB=1,\"t\",0,0,{}{eol}", payload.len()).into_bytes();
        input.extend_from_slice(payload);
        input.extend_from_slice(format!("AT{eol}").as_bytes());
        assert_eq!(
            r.raw(&input),
            "\r\n>\r\nOK\r\n\r\n+MQTTPUB: 1,1\r\n\r\nOK\r\n",
            "eol {eol:?}"
        );
        match r.last_op() {
            Some(MqttOp::Publish { payload: got, .. }) => assert_eq!(&got[..], payload),
            other => panic!("a publish: {other:?}"),
        }
    }
}

/// Issue 10: a real L610 took a 55-byte client id with a 40-byte user name; we take up to 128
/// bytes (DIVERGENCES L17).
#[test]
fn long_client_ids_up_to_128_bytes_are_used_in_the_connect() {
    for len in [24, 55, 128] {
        let mut r = called();
        let id = "i".repeat(len);
        let user = "u".repeat(40);
        assert_eq!(
            r.send(&format!("AT+MQTTUSER=1,\"{user}\",\"pw\",\"{id}\"")),
            "\r\nOK\r\n"
        );
        r.send("AT+MQTTOPEN=1,\"h\",1883,0,60");
        r.event(NetEventKind::Connected);
        match r.last_op() {
            Some(MqttOp::Connect(p)) => {
                assert_eq!(p.client_id, id);
                assert_eq!(p.username.as_deref(), Some(user.as_str()));
            }
            other => panic!("a CONNECT: {other:?}"),
        }
    }
    let mut r = Rig::new(DialectKind::L610);
    let id = "i".repeat(129);
    assert_eq!(
        r.send(&format!("AT+MQTTUSER=1,\"u\",\"p\",\"{id}\"")),
        "\r\nERROR\r\n"
    );
}
