//! The dialect driven through the [`Engine`] with bytes in and network events faked: every
//! answer is checked against the text the seed logs show.

use super::*;
use crate::dialect::rig::{message, publish, Rig};
use crate::net::{ConnectReturnCode, MqttOp, NetEventKind, NetRequest, QoS};

/// A fresh Air780E through CONNACK OK.
fn connected() -> Rig {
    Rig::new(DialectKind::Air780e).set_up(Rig::connected)
}

#[test]
fn basic_answers_match_seed_000_section_6_2() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.script(&[
        ("ATI", "\r\nAirM2M_780E_V1169_LTE_AT\r\n\r\nOK\r\n"),
        ("AT+CGREG?", "\r\n+CGREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CGATT?", "\r\n+CGATT: 1\r\n\r\nOK\r\n"),
        // The family's <ber> is 0 (Network_service/CSQ.md); seed 003's 29,99 is an Air724UG's.
        ("AT+CSQ", "\r\n+CSQ: 29,0\r\n\r\nOK\r\n"),
        // Seed 003 "检查网络": CSTT, CIICR, then CIFSR prints the address alone.
        ("AT+CSTT", "\r\nOK\r\n"),
        ("AT+CIICR", "\r\nOK\r\n"),
        ("AT+CIFSR", "\r\n10.104.48.68\r\n"),
        ("AT+BOGUS", "\r\nERROR\r\n"),
    ]);
}

#[test]
fn echo_follows_ate() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.script(&[
        ("ATE1", "\r\nOK\r\n"),
        ("AT", "AT\r\r\nOK\r\n"),
        ("ATE0", "ATE0\r\r\nOK\r\n"),
        ("AT", "\r\nOK\r\n"),
    ]);
}

#[test]
fn the_plain_flow_sends_the_right_packets() {
    let mut r = connected();
    let Some(NetRequest::Mqtt {
        op: MqttOp::Connect(c),
        ..
    }) = r.net.get(1)
    else {
        panic!("{:?}", r.net)
    };
    assert_eq!(
        (
            c.client_id.as_str(),
            c.username.as_deref(),
            c.password.as_deref()
        ),
        ("868488076771714", Some("root"), Some("luat123456"))
    );
    assert_eq!((c.keepalive, c.clean_session), (60, true));
    r.subscribes(
        b"AT+MSUB=\"mqtt/pub\",0\r",
        "\r\nOK\r\n",
        "mqtt/pub",
        "\r\nSUBACK\r\n",
    );
    r.round_trip(
        b"AT+MPUB=\"mqtt/sub\",0,0,\"data from 4G module\"\r",
        "\r\nOK\r\n",
        publish("mqtt/sub", "data from 4G module"),
        message("mqtt/pub", QoS::AtMostOnce, "data from tcp server"),
        "\r\n+MSUB: \"mqtt/pub\",20 byte,data from tcp server\r\n",
    );
    r.script(&[
        ("AT+MQTTSTATU", "\r\n+MQTTSTATU :1\r\n\r\nOK\r\n"),
        ("AT+MDISCONNECT", "\r\nOK\r\n"),
        ("AT+MIPCLOSE", "\r\nOK\r\n"),
        ("AT+MQTTSTATU", "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"),
    ]);
}

#[test]
fn qos_acks_and_one_publish_in_flight() {
    let mut r = connected();
    r.script(&[
        ("AT+MPUB=\"t\",1,0,\"a\"", "\r\nOK\r\n"),
        ("AT+MPUB=\"t\",2,0,\"b\"", "\r\n+CME ERROR: 767\r\n"),
        // QoS 0 is not held back
        ("AT+MPUB=\"t\",0,0,\"c\"", "\r\nOK\r\n"),
    ]);
    assert_eq!(r.event(NetEventKind::PubAck), "\r\nPUBACK\r\n");
    assert_eq!(r.send("AT+MPUB=\"t\",2,0,\"b\""), "\r\nOK\r\n");
    assert_eq!(r.event(NetEventKind::PubRec), "\r\nPUBREC\r\n");
    assert_eq!(r.event(NetEventKind::PubComp), "\r\nPUBCOMP\r\n");
}

#[test]
fn escapes_are_decoded() {
    let mut r = connected();
    r.send(r"AT+MPUB=attributes,0,0,{\22temperature\22:31.6\2C\22humidity\22:65}");
    let Some(NetRequest::Mqtt {
        op: MqttOp::Publish { payload, .. },
        ..
    }) = r.net.last()
    else {
        panic!()
    };
    assert_eq!(&payload[..], br#"{"temperature":31.6,"humidity":65}"#);
}

#[test]
fn mpubex_takes_raw_bytes_after_the_prompt() {
    let mut r = connected();
    let out = r.raw(b"AT+MPUBEX=\"t\",0,0,7\r\r\nOK>\0\"AT\r");
    assert_eq!(out, "\r\n>\r\nOK\r\n\r\nOK\r\n");
    assert_eq!(r.published()[0], b"\r\nOK>\0\"");
}

#[test]
fn cache_holds_four_and_overwrites_the_oldest() {
    let mut r = connected();
    assert_eq!(r.send("AT+MQTTMSGSET=1"), "\r\nOK\r\n");
    let mut slots = String::new();
    for i in 0..5 {
        let msg = message("t", QoS::AtMostOnce, &format!("m{i}"));
        slots += &r.event(msg);
    }
    assert_eq!(
        slots,
        "\r\n+MSUB: 0\r\n\r\n+MSUB: 1\r\n\r\n+MSUB: 2\r\n\r\n+MSUB: 3\r\n\r\n+MSUB: 0\r\n"
    );
    r.script(&[
        ("AT+MQTTMSGGET", "\r\n+MSUB: \"t\",2 byte,m1\r\n\r\n+MSUB: \"t\",2 byte,m2\r\n\r\n+MSUB: \"t\",2 byte,m3\r\n\r\n+MSUB: \"t\",2 byte,m4\r\n\r\nOK\r\n"),
        // Reading empties the cache.
        ("AT+MQTTMSGGET", "\r\nOK\r\n"),
    ]);
}

#[test]
fn passive_close_then_767_then_recovery_as_in_seed_001() {
    let mut r = connected();
    assert_eq!(
        r.event(NetEventKind::Closed(crate::net::CloseReason::PeerClosed)),
        "\r\nCLOSED\r\n"
    );
    r.script(&[
        ("AT+MQTTSTATU", "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"),
        ("AT+MCONNECT=1,60", "\r\n+CME ERROR: 767\r\n"),
        ("AT+MIPCLOSE", "\r\n+CME ERROR: 767\r\n"),
    ]);
    r.connected();
}

#[test]
fn mconnect_while_connected_is_767_and_mipstart_says_already_connect() {
    let mut r = connected();
    r.script(&[
        ("AT+MCONNECT=1,60", "\r\n+CME ERROR: 767\r\n"),
        (
            "AT+MIPSTART=\"x\",1883",
            "\r\nOK\r\n\r\nALREADY CONNECT\r\n",
        ),
    ]);
}

#[test]
fn stale_events_from_an_old_link_are_ignored() {
    let mut r = connected();
    let old = r.last_link();
    r.send("AT+MIPCLOSE");
    assert_eq!(
        r.event_on(
            old,
            NetEventKind::Closed(crate::net::CloseReason::PeerClosed)
        ),
        ""
    );
}

#[test]
fn bad_parameters_get_error() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.all_answer(
        "\r\nERROR\r\n",
        &[
            "AT+MIPSTART=\"h\",0",
            "AT+MIPSTART=\"h\"",
            "AT+MCONFIG=",
            "AT+MCONFIG=\"unbalanced",
            "AT+MCONNECT=2,60",
            "AT+MCONNECT=1,0",
            "AT+MSUB=\"t\",3",
            "AT+MPUB=\"t\",0,0",
            "AT+MPUBEX=\"t\",0,0,0",
            "AT+MPUBEX=\"t\",0,0,4101",
            "AT+CMEE=3",
            "AT+IPR=12345",
            "ATE2",
        ],
    );
    assert_eq!(
        r.send("AT+MPUB=\"t\",0,0,\"x\""),
        "\r\n+CME ERROR: 767\r\n",
        "valid but not connected"
    );
    r.send("AT+CMEE=2");
    assert_eq!(
        r.send("AT+MPUB=\"t\",0,0,\"x\""),
        "\r\n+CME ERROR: operation failed\r\n"
    );
}

#[test]
fn mpub_over_the_limit_is_refused() {
    let mut r = connected();
    let line = format!("AT+MPUB=\"t\",0,0,\"{}\"", "x".repeat(MAX + 1));
    assert_eq!(r.send(&line), "\r\nERROR\r\n");
    let line = format!("AT+MPUB=\"t\",0,0,\"{}\"", "x".repeat(MAX));
    assert_eq!(r.send(&line), "\r\nOK\r\n");
}
const MAX: usize = super::mqtt::MPUB_MAX;

#[test]
fn a_refused_connack_reads_as_closed() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.send("AT+MCONFIG=id,root,wrong");
    r.send("AT+MIPSTART=\"h\",1883");
    r.event(NetEventKind::Connected);
    r.send("AT+MCONNECT=1,60");
    r.closes(
        |r| {
            r.event(NetEventKind::ConnAck(
                ConnectReturnCode::BadUserNamePassword,
            ))
        },
        "\r\nCLOSED\r\n",
    );
}

#[test]
fn pdn_deactivation_as_in_seed_001() {
    let mut r = connected();
    r.closes(
        |r| r.fault(crate::fault::Fault::PDN_DEACT),
        "\r\n+CGEV: NW PDN DEACT 1\r\n",
    );
    r.script(&[
        ("AT+MQTTSTATU", "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"),
        ("AT+MIPCLOSE", "\r\nOK\r\n"),
    ]);
    r.connected();
}

#[test]
fn settings_have_read_test_and_set_forms() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.script(&[
        ("AT+CMEE?", "\r\n+CMEE: 1\r\n\r\nOK\r\n"),
        ("AT+CMEE=?", "\r\n+CMEE: (0-2)\r\n\r\nOK\r\n"),
        ("AT+CEREG=2", "\r\nOK\r\n"),
        (
            "AT+CEREG?",
            "\r\n+CEREG: 2,1,\"1863\",\"0183db22\",7\r\n\r\nOK\r\n",
        ),
        // CGREG has its own mode
        ("AT+CGREG?", "\r\n+CGREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CGATT=?", "\r\n+CGATT: (0-1)\r\n\r\nOK\r\n"),
        ("AT+MQTTMSGSET?", "\r\n+MQTTMSGSET: 0\r\n\r\nOK\r\n"),
        ("AT+MQTTMODE=1", "\r\nOK\r\n"),
        ("AT+MQTTMODE?", "\r\n+MQTTMODE: 1\r\n\r\nOK\r\n"),
        ("AT+MQTTMODE=?", "\r\n+MQTTMODE: (0,1)\r\n\r\nOK\r\n"),
        ("AT+MQTTMODE", "\r\nERROR\r\n"),
        ("AT+MQTTMODE=0,1", "\r\nERROR\r\n"),
        // Detaching takes the data path down: a connect now fails at once.
        ("AT+CGATT=0", "\r\nOK\r\n"),
        ("AT+CGATT?", "\r\n+CGATT: 0\r\n\r\nOK\r\n"),
        (
            "AT+MIPSTART=\"h\",1883",
            "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n\r\nCONNECT FAIL\r\n",
        ),
    ]);
}

#[test]
fn hex_mode_publishes_decoded_bytes_and_prints_hex() {
    let mut r = connected();
    r.send("AT+MQTTMODE=1");
    assert_eq!(r.send("AT+MPUB=\"test\",0,0,\"313233\""), "\r\nOK\r\n");
    assert!(
        matches!(r.net.last(), Some(NetRequest::Mqtt { op: MqttOp::Publish { payload, .. }, .. }) if &payload[..] == b"123")
    );
    assert_eq!(
        r.send("AT+MPUB=\"test\",0,0,\"31323\""),
        "\r\nERROR\r\n",
        "odd hex length"
    );
    let msg = message("t", QoS::AtMostOnce, "\r\n");
    assert_eq!(r.event(msg), "\r\n+MSUB: \"t\",4 byte,0D0A\r\n");
}

#[test]
fn topics_follow_mqtt_rules() {
    let mut r = connected();
    r.script(&[
        // No wildcard in a topic name.
        ("AT+MPUB=\"a/#\",0,0,\"x\"", "\r\nERROR\r\n"),
        ("AT+MPUB=\"a/+/b\",0,0,\"x\"", "\r\nERROR\r\n"),
        // # only last
        ("AT+MSUB=\"a/#/b\",0", "\r\nERROR\r\n"),
        // + only as a whole level
        ("AT+MSUB=\"a+\",0", "\r\nERROR\r\n"),
        // Seed 003 subscribes with +.
        ("AT+MSUB=\"command/send/+\",0", "\r\nOK\r\n"),
        ("AT+MUNSUB=\"a/#\"", "\r\nOK\r\n"),
    ]);
    assert_eq!(
        r.raw(b"AT+MPUB=\"t\xff\",0,0,\"x\"\r"),
        "\r\nERROR\r\n",
        "not UTF-8"
    );
    assert_eq!(r.raw(b"AT+MSUB=t\x00,0\r"), "\r\nERROR\r\n", "NUL");
    let long = "t".repeat(257);
    assert_eq!(r.send(&format!("AT+MSUB=\"{long}\",0")), "\r\nERROR\r\n");
}

/// `fixtures/malformed/air780e.tsv`: each row's answer (written by hand from the documented
/// rules) from a fresh module in the row's state, then `AT` still answers `OK`.
#[test]
fn malformed_input_table() {
    crate::dialect::rig::malformed_table(DialectKind::Air780e, |r, case| {
        if case.connected {
            r.connected()
        }
    });
}

/// Every command of the table has its README row and a malformed-input row.
#[test]
fn every_command_has_a_readme_row_and_malformed_rows() {
    crate::dialect::rig::documented(DialectKind::Air780e, super::commands::COMMANDS);
}

// --- file system, AT+SSLCFG, AT+SSLMIPSTART (seed 000 sections 6.3 and 6.4) ---

#[test]
fn fswrite_takes_exactly_size_bytes_then_ok() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.script(&[
        ("AT+FSCREATE=\"ca.crt\"", "\r\nOK\r\n"),
        ("AT+FSWRITE=\"ca.crt\",0,10,15", "\r\n>"),
    ]);
    assert_eq!(r.timers, vec![(1, std::time::Duration::from_secs(15))]);
    // Line ends and `AT` inside the data are data.
    assert_eq!(r.raw(b"AT\r\n12"), "");
    assert_eq!(r.raw(b"3456"), "\r\nOK\r\n");
    r.script(&[
        ("AT+FSFLSIZE=ca.crt", "\r\n+FSFLSIZE: 10\r\n\r\nOK\r\n"),
        ("AT+FSREAD=ca.crt,0,100,0", "\r\nAT\r\n123456\r\n\r\nOK\r\n"),
        ("AT+FSREAD=ca.crt,1,3,4", "\r\n123\r\n\r\nOK\r\n"),
        // Mode 1 appends.
        ("AT+FSWRITE=ca.crt,1,2,15", "\r\n>"),
    ]);
    assert_eq!(r.raw(b"xy"), "\r\nOK\r\n");
    assert_eq!(
        r.send("AT+FSFLSIZE=\"ca.crt\""),
        "\r\n+FSFLSIZE: 12\r\n\r\nOK\r\n"
    );
    // The timers of completed writes are stale: nothing happens.
    assert_eq!(r.fire(1), "");
    r.script(&[
        ("AT+FSLS", "\r\nca.crt\r\n\r\nOK\r\n"),
        ("AT+FSDEL=ca.crt", "\r\nOK\r\n"),
        ("AT+FSDEL=ca.crt", "\r\nERROR\r\n"),
        ("AT+FSLS", "\r\n\r\nOK\r\n"),
    ]);
}

/// FS/使用方法举例.md's flow, byte for byte where the example prints it: directories two
/// levels deep, a file in one, `+FSMEM: <free> bytes` (1304000 with nothing written, A35), the
/// file deleted and the directories removed; the test forms `OK` (FSMKDIR.md, FSRMDIR.md,
/// FSMEM.md). Reset keeps them (flash).
#[test]
fn directories_and_free_space_as_the_manual_example_runs_them() {
    let mut r = Rig::new(DialectKind::Air780e).crlf();
    r.all_answer(
        "\r\nOK\r\n",
        &["AT+FSMKDIR=?", "AT+FSRMDIR=?", "AT+FSMEM=?"],
    );
    r.script(&[
        ("AT+FSMEM", "\r\n+FSMEM: 1304000 bytes\r\n\r\nOK\r\n"),
        ("AT+FSMKDIR=\"/testdir\"", "\r\nOK\r\n"),
        ("AT+FSMKDIR=\"/testdir/testdir\"", "\r\nOK\r\n"),
        ("AT+FSCREATE=\"/testdir/test.txt\"", "\r\nOK\r\n"),
        ("AT+FSWRITE=\"/testdir/test.txt\",0,10,10", "\r\n>"),
    ]);
    assert_eq!(r.raw(b"1234567890"), "\r\nOK\r\n");
    r.script(&[
        (
            "AT+FSREAD=\"/testdir/test.txt\",0,10,10",
            "\r\n1234567890\r\n\r\nOK\r\n",
        ),
        // The leading `/` is the root's: the same file without it.
        (
            "AT+FSFLSIZE=testdir/test.txt",
            "\r\n+FSFLSIZE: 10\r\n\r\nOK\r\n",
        ),
        ("AT+FSMEM", "\r\n+FSMEM: 1303990 bytes\r\n\r\nOK\r\n"),
    ]);
    assert!(r.send("AT+RESET").starts_with("\r\nOK\r\n\r\nRDY\r\n"));
    // The reset turned echo back on.
    r.send("ATE0");
    r.script(&[
        // Not empty: its file and its subdirectory are still there.
        ("AT+FSRMDIR=\"/testdir\"", "\r\nERROR\r\n"),
        ("AT+FSDEL=\"/testdir/test.txt\"", "\r\nOK\r\n"),
        ("AT+FSRMDIR=\"/testdir/testdir\"", "\r\nOK\r\n"),
        ("AT+FSRMDIR=\"/testdir/testdir\"", "\r\nERROR\r\n"),
        ("AT+FSMEM", "\r\n+FSMEM: 1304000 bytes\r\n\r\nOK\r\n"),
        ("AT+FSRMDIR=testdir", "\r\nOK\r\n"),
        // With the directory gone, nothing can be made in it.
        ("AT+FSCREATE=\"/testdir/test.txt\"", "\r\nERROR\r\n"),
        ("AT+FSMKDIR=\"/testdir/testdir\"", "\r\nERROR\r\n"),
    ]);
}

/// FSMKDIR.md/FSRMDIR.md: one name of at most 64 bytes; a name taken, a parent missing, a bad
/// path and other forms `ERROR` (A35).
#[test]
fn directory_commands_malformed_or_refused_are_error() {
    let mut r = Rig::new(DialectKind::Air780e).crlf();
    r.script(&[
        ("AT+FSCREATE=ca.crt", "\r\nOK\r\n"),
        ("AT+FSMKDIR=certs", "\r\nOK\r\n"),
    ]);
    let long = format!("AT+FSMKDIR={}", "d".repeat(65));
    r.all_answer(
        "\r\nERROR\r\n",
        &[
            "AT+FSMKDIR",
            "AT+FSMKDIR?",
            "AT+FSMKDIR=",
            "AT+FSMKDIR=\"\"",
            "AT+FSMKDIR=\"/\"",
            "AT+FSMKDIR=a,b",
            &long,
            "AT+FSMKDIR=certs",
            "AT+FSMKDIR=/ca.crt",
            "AT+FSMKDIR=no/such",
            "AT+FSMKDIR=certs//x",
            "AT+FSMKDIR=certs/../x",
            "AT+FSMKDIR=certs\\x",
            "AT+FSCREATE=certs",
            "AT+FSRMDIR",
            "AT+FSRMDIR?",
            "AT+FSRMDIR=nodir",
            "AT+FSRMDIR=ca.crt",
            "AT+FSMEM?",
            "AT+FSMEM=1",
        ],
    );
    assert_eq!(
        r.send(&format!("AT+FSMKDIR={}", "d".repeat(64))),
        "\r\nOK\r\n"
    );
    for n in 2..16 {
        assert_eq!(r.send(&format!("AT+FSMKDIR=d{n}")), "\r\nOK\r\n");
    }
    assert_eq!(r.send("AT+FSMKDIR=one.too.many"), "\r\nERROR\r\n");
}

#[test]
fn fswrite_bad_parameters() {
    let mut r = Rig::new(DialectKind::Air780e);
    // No such file, size 0, size over 10240, bad mode, bad timeout, wrong arity, long name.
    assert_eq!(r.send("AT+FSWRITE=nofile,0,10,15"), "\r\nERROR\r\n");
    r.send("AT+FSCREATE=f");
    r.all_answer(
        "\r\nERROR\r\n",
        &[
            "AT+FSWRITE=f,0,0,15",
            "AT+FSWRITE=f,0,10241,15",
            "AT+FSWRITE=f,2,10,15",
            "AT+FSWRITE=f,0,10,0",
            "AT+FSWRITE=f,0,10,4294967296",
            "AT+FSWRITE=f,0,10",
            "AT+FSREAD=f,1,10,0",
            "AT+FSREAD=nofile,0,10,0",
        ],
    );
    let long = "n".repeat(65);
    assert_eq!(r.send(&format!("AT+FSCREATE={long}")), "\r\nERROR\r\n");
    assert_eq!(r.send("AT+FSWRITE=f,0,10240,4294967295"), "\r\n>");
}

#[test]
fn fswrite_times_out_and_the_module_takes_commands_again() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.send("AT+FSCREATE=ca.crt");
    r.send("AT+FSWRITE=ca.crt,0,1212,15");
    assert_eq!(r.raw(b"-----BEGIN"), "");
    let (id, _) = r.timers[0];
    assert_eq!(r.fire(id), "\r\nTimeOut\r\n");
    // The partial bytes were dropped and the line mode is back.
    r.script(&[
        ("AT", "\r\nOK\r\n"),
        ("AT+FSFLSIZE=ca.crt", "\r\n+FSFLSIZE: 0\r\n\r\nOK\r\n"),
    ]);
}

#[test]
fn sslcfg_set_query_erase() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.script(&[
        ("AT+SSLCFG=\"cacert\",88,\"ca.crt\"", "\r\nOK\r\n"),
        (
            "AT+SSLCFG=\"cacert\",88",
            "\r\n+SSLCFG: \"cacert\",88,\"ca.crt\"\r\n\r\nOK\r\n",
        ),
        ("AT+SSLCFG=\"cacert\",88,", "\r\nOK\r\n"),
        (
            "AT+SSLCFG=\"cacert\",88",
            "\r\n+SSLCFG: \"cacert\",88,\"\"\r\n\r\nOK\r\n",
        ),
        ("AT+SSLCFG=\"seclevel\",88,2", "\r\nOK\r\n"),
        (
            "AT+SSLCFG=\"seclevel\",88",
            "\r\n+SSLCFG: \"seclevel\",88,2\r\n\r\nOK\r\n",
        ),
    ]);
    r.all_answer(
        "\r\nERROR\r\n",
        &[
            "AT+SSLCFG=\"seclevel\",88,3",
            "AT+SSLCFG=\"cacert\",6,\"ca.crt\"",
            "AT+SSLCFG=\"nosuchkey\",88,1",
            "AT+SSLCFG=\"cacert\"",
            "AT+SSLCFG",
        ],
    );
}

#[test]
fn sslmipstart_carries_the_files_and_the_level() {
    use crate::net::{TlsVersion, Verify};
    let mut r = Rig::new(DialectKind::Air780e);
    for (name, body) in [
        ("ca.crt", "CA"),
        ("client.crt", "CRT"),
        ("client.key", "KEY"),
    ] {
        r.send(&format!("AT+FSCREATE={name}"));
        r.send(&format!("AT+FSWRITE={name},0,{},15", body.len()));
        assert_eq!(r.raw(body.as_bytes()), "\r\nOK\r\n");
    }
    r.send("AT+SSLCFG=\"cacert\",88,\"ca.crt\"");
    r.send("AT+SSLCFG=\"clientcert\",88,\"client.crt\"");
    r.send("AT+SSLCFG=\"clientkey\",88,\"client.key\"");
    r.send("AT+MCONFIG=868488076771714,root,luat123456");

    // seclevel 0 (the default): no verification, no client certificate.
    assert_eq!(
        r.send("AT+SSLMIPSTART=\"airtest.openluat.com\",\"8883\""),
        "\r\nOK\r\n"
    );
    let tls = r.last_tls().expect("a TLS open");
    assert_eq!(tls.verify, Verify::None);
    assert_eq!(tls.server_name, "airtest.openluat.com");
    assert_eq!(tls.versions, (TlsVersion::Tls12, TlsVersion::Tls12));
    assert_eq!(tls.client_cert_pem, None);
    assert_eq!(r.event(NetEventKind::Connected), "\r\nCONNECT OK\r\n");
    r.send("AT+MIPCLOSE");

    // seclevel 2 and a hostname: everything, and the name checked is the setting.
    r.send("AT+SSLCFG=\"seclevel\",88,2");
    r.send("AT+SSLCFG=\"hostname\",88,\"lbsmqtt.airm2m.com\"");
    r.send("AT+SSLMIPSTART=\"127.0.0.1\",8883");
    let tls = r.last_tls().expect("a TLS open");
    assert_eq!(tls.verify, Verify::Peer);
    assert_eq!(tls.ca_pem.as_deref(), Some(&b"CA"[..]));
    assert_eq!(tls.client_cert_pem.as_deref(), Some(&b"CRT"[..]));
    assert_eq!(tls.client_key_pem.as_deref(), Some(&b"KEY"[..]));
    assert_eq!(tls.server_name, "lbsmqtt.airm2m.com");
    // A failed handshake is a failed connect.
    assert_eq!(
        r.event(NetEventKind::ConnectFailed(
            "TLS handshake: bad cert".into()
        )),
        "\r\nSTATE: IP INITIAL\r\n\r\nCONNECT FAIL\r\n"
    );
    // Plain MIPSTART stays plain.
    r.send("AT+MIPSTART=\"airtest.openluat.com\",1883");
    assert_eq!(r.last_tls(), None);
}

/// Fault `closed`/`reset` as the dialect sees it (a `Closed` event from the link): seed 001
/// "连接被动断开": `CLOSED`, `MQTTSTATU` 0, then `MIPCLOSE` and `MCONNECT` answer 767, and the
/// recovery sequence works again.
#[test]
fn peer_close_and_reset_as_in_seed_001() {
    crate::dialect::rig::broken_each_way(
        || {
            let mut r = connected();
            assert_eq!(r.send("AT+MCONNECT=1,60"), "\r\n+CME ERROR: 767\r\n");
            r
        },
        "\r\nCLOSED\r\n",
        |r| {
            r.script(&[
                ("AT+MQTTSTATU", "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"),
                ("AT+MCONNECT=0,300", "\r\n+CME ERROR: 767\r\n"),
                ("AT+MIPCLOSE", "\r\n+CME ERROR: 767\r\n"),
            ]);
            r.connected();
        },
    );
}

#[test]
fn pdn_deact_with_a_delay_fails_connects_until_the_context_is_back() {
    let mut r = connected();
    r.pdn_outage(
        7,
        "\r\n+CGEV: NW PDN DEACT 1\r\n",
        &[
            ("AT+MIPCLOSE", "\r\nOK\r\n"),
            (
                "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"",
                "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n\r\nCONNECT FAIL\r\n",
            ),
            ("AT+CIFSR", "\r\nERROR\r\n"),
            ("AT+CSTT", "\r\nOK\r\n"),
            ("AT+CIICR", "\r\n+CME ERROR: 30\r\n"),
        ],
        &[
            ("AT+CIICR", "\r\nOK\r\n"),
            ("AT+CIFSR", "\r\n10.104.48.68\r\n"),
        ],
    );
    r.connected();
}

#[test]
fn deregister_and_register_with_and_without_urcs() {
    // URC modes 0 (power-on): nothing about registration, but the bearer goes.
    let mut r = connected();
    r.closes(
        |r| r.fault(crate::fault::Deregister),
        "\r\n+CGEV: NW PDN DEACT 1\r\n",
    );
    r.script(&[
        ("AT+CGATT?", "\r\n+CGATT: 0\r\n\r\nOK\r\n"),
        ("AT+CGREG?", "\r\n+CGREG: 0,0\r\n\r\nOK\r\n"),
        ("AT+CGATT=1", "\r\n+CME ERROR: 30\r\n"),
        ("AT+MQTTSTATU", "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"),
        ("AT+MIPCLOSE", "\r\nOK\r\n"),
        (
            "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"",
            "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n\r\nCONNECT FAIL\r\n",
        ),
        // With URC modes on.
        ("AT+CGREG=1", "\r\nOK\r\n"),
        ("AT+CEREG=2", "\r\nOK\r\n"),
    ]);
    assert_eq!(
        r.fault(crate::fault::Register),
        "\r\n+CGREG: 1\r\n\r\n+CEREG: 1,\"1863\",\"0183db22\",7\r\n"
    );
    assert_eq!(r.send("AT+CGATT?"), "\r\n+CGATT: 1\r\n\r\nOK\r\n");
    r.connected();
    assert_eq!(
        r.fault(crate::fault::Deregister),
        "\r\n+CGREG: 0\r\n\r\n+CEREG: 0\r\n\r\n+CGEV: NW PDN DEACT 1\r\n"
    );
    // A second deregistration changes nothing and says nothing.
    assert_eq!(r.fault(crate::fault::Deregister), "");
}

#[test]
fn sim_removed_and_inserted_and_signal() {
    let mut r = Rig::new(DialectKind::Air780e);
    assert_eq!(r.send("AT+CEREG=1"), "\r\nOK\r\n");
    // The SIM guide's hot removal (luatos-doc-pool public/20240906_any_sim.md), with the
    // registration URC the host asked for.
    assert_eq!(r.fault(crate::fault::SimRemoved),
        "\r\n^MODE: 0,0\r\n\r\n+NO Service\r\n\r\n+CGEV: NW PDN DEACT 1\r\n\r\n+CGEV: ME DETACH\r\n\r\n+CPIN: SIM REMOVED 0\r\n\r\n+CEREG: 0\r\n"
    );
    assert_eq!(r.send("AT+CPIN?"), "\r\n+CME ERROR: 10\r\n");
    // The capture's second detach, 10 s on.
    let (id, after) = *r.timers.last().expect("the second detach's timer");
    assert_eq!(after, std::time::Duration::from_secs(10));
    assert_eq!(r.fire(id), "\r\n+CGEV: ME DETACH\r\n");
    assert_eq!(
        r.fault(crate::fault::Register),
        "",
        "no registration without a SIM"
    );
    let got = r.fault(crate::fault::SimInserted);
    let nitz = got.find("+NITZ: ").expect("a +NITZ line");
    assert_eq!(
        got[..nitz].to_string() + &got[nitz + 30..],
        "\r\n^MODE: 17,17\r\n\r\n+E_UTRAN Service\r\n\r\n+CGEV: ME PDN ACT 1,0\r\n\r\n\r\n\r\n+CPIN: READY 0\r\n\r\n+CEREG: 1\r\n",
        "{got}"
    );
    assert_eq!(r.send("AT+CPIN?"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    r.connected();
    assert_eq!(r.fault(crate::fault::Signal(5)), "");
    assert_eq!(r.send("AT+CSQ"), "\r\n+CSQ: 5,0\r\n\r\nOK\r\n");
}

// --- issue 11: identity, registration, bearer, radio, reset, profiles ---

/// A rig whose clock reads 2024/08/23,06:52:50 and whose model is `model` at `fw`.
fn rig_with(model: &str, fw: Option<&str>) -> Rig {
    let identity = Identity {
        profile: crate::modem::Profile::lookup(
            crate::dialect::DialectKind::Air780e,
            Some(model),
            fw,
        )
        .unwrap(),
        time: Some(1_724_395_970),
        ..Identity::default()
    };
    Rig::with(Box::new(Air780e::new(identity)))
}

#[tokio::test(start_paused = true)]
async fn identity_answers_as_the_manual_pages_print_them() {
    let mut r = rig_with("air780ep", Some("V1007"));
    // luatos-doc-pool Command_List/Base/: ATI.md, CGMR.md, CGMM.md, CGMI.md, CIMI.md, ICCID.md.
    r.script(&[
        ("ATI", "\r\nAirM2M_780EP_V1007_LTE_AT\r\n\r\nOK\r\n"),
        (
            "AT+CGMR",
            "\r\n+CGMR: \"AirM2M_780EP_V1007_LTE_AT\"\r\n\r\nOK\r\n",
        ),
        ("AT+CGMM", "\r\n+CGMM: \"Air780EP\"\r\n\r\nOK\r\n"),
        ("AT+CGMI", "\r\n+CGMI: \"AirM2M\"\r\n\r\nOK\r\n"),
        ("AT+CIMI", "\r\n460046616008063\r\n\r\nOK\r\n"),
        ("AT+ICCID", "\r\n+ICCID: 89860117831003134201\r\n\r\nOK\r\n"),
        ("AT+CCID", "\r\n89860117831003134201\r\n\r\nOK\r\n"),
        // The 780EP's <ber> is 0 (Network_service/CSQ.md: +CSQ: 15,0).
        ("AT+CSQ", "\r\n+CSQ: 29,0\r\n\r\nOK\r\n"),
        // Configuration/CCLK.md: +CCLK: "18/08/01,12:12:58+00"; the clock runs.
        (
            "AT+CCLK?",
            "\r\n+CCLK: \"24/08/23,06:52:50+00\"\r\n\r\nOK\r\n",
        ),
    ]);
    tokio::time::sleep(std::time::Duration::from_secs(70)).await;
    r.script(&[
        (
            "AT+CCLK?",
            "\r\n+CCLK: \"24/08/23,06:54:00+00\"\r\n\r\nOK\r\n",
        ),
        ("AT+CCLK=\"18/08/07,13:28:29+32\"", "\r\nOK\r\n"),
        // The page reads back the zone it set.
        (
            "AT+CCLK?",
            "\r\n+CCLK: \"18/08/07,13:28:29+32\"\r\n\r\nOK\r\n",
        ),
        ("AT*RTIME=2", "\r\nOK\r\n"),
        ("AT*SIMAUTO=1", "\r\nOK\r\n"),
        ("AT*SIMAUTO?", "\r\n*SIMAUTO: 1\r\n\r\nOK\r\n"),
        // Device_control/CBC.md, CSCLK.md, CSDT.md.
        ("AT+CBC", "\r\n+CBC: 3800\r\n\r\nOK\r\n"),
        ("AT+CBC=3400,3300", "\r\nOK\r\n"),
        ("AT+CBC?", "\r\n+CBC: 3400,3300\r\n\r\nOK\r\n"),
        ("AT+CSCLK=2", "\r\nOK\r\n"),
        ("AT+CSCLK?", "\r\n+CSCLK: 2\r\n\r\nOK\r\n"),
        ("AT+CSCLK=?", "\r\n+CSCLK: (0-3)\r\n\r\nOK\r\n"),
        ("AT+CSDT=1", "\r\nOK\r\n"),
        ("AT+CSDT?", "\r\n+CSDT: 1,1\r\n\r\nOK\r\n"),
        ("AT+CSDT=?", "\r\n+CSDT: (0,1)\r\n\r\nOK\r\n"),
    ]);
}

#[test]
fn registration_with_the_cell_and_the_operator() {
    let mut r = Rig::new(DialectKind::Air780e);
    // Network_service/CREG.md: +CREG: 0,1; n = 2 adds "1863","0183db22",7.
    r.script(&[
        ("AT+CREG?", "\r\n+CREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CREG=2", "\r\nOK\r\n"),
        (
            "AT+CREG?",
            "\r\n+CREG: 2,1,\"1863\",\"0183db22\",7\r\n\r\nOK\r\n",
        ),
        ("AT+CREG=?", "\r\n+CREG: (0,1,2,3)\r\n\r\nOK\r\n"),
        ("AT+CEREG=?", "\r\n+CEREG: (0,1,2,3,4,5)\r\n\r\nOK\r\n"),
        ("AT+CESQ", "\r\n+CESQ: 99,99,255,255,22,48\r\n\r\nOK\r\n"),
        ("AT+CGREG=2", "\r\nOK\r\n"),
        (
            "AT+CGREG?",
            "\r\n+CGREG: 2,1,\"1863\",\"0183db22\",7\r\n\r\nOK\r\n",
        ),
    ]);
    assert_eq!(
        r.fault(crate::fault::Deregister),
        "\r\n+CREG: 0\r\n\r\n+CGREG: 0\r\n\r\n+CGEV: NW PDN DEACT 1\r\n"
    );
    r.script(&[
        ("AT+CREG?", "\r\n+CREG: 2,0\r\n\r\nOK\r\n"),
        ("AT+COPS?", "\r\n+COPS: 0\r\n\r\nOK\r\n"),
    ]);
    assert_eq!(
        r.fault(crate::fault::Register),
        "\r\n+CREG: 1,\"1863\",\"0183db22\",7\r\n\r\n+CGREG: 1,\"1863\",\"0183db22\",7\r\n"
    );
    // Network_service/COPS.md: +COPS: 0,2,"46001",7, then the format set by AT+COPS=3,<f>.
    r.script(&[
        ("AT+COPS?", "\r\n+COPS: 0,2,\"46000\",7\r\n\r\nOK\r\n"),
        ("AT+COPS=3,1", "\r\nOK\r\n"),
        ("AT+COPS?", "\r\n+COPS: 0,1,\"CMCC\",7\r\n\r\nOK\r\n"),
        ("AT+COPS=3,0", "\r\nOK\r\n"),
        ("AT+COPS?", "\r\n+COPS: 0,0,\"CHINA MOBILE\",7\r\n\r\nOK\r\n"),
        ("AT+COPS=?", "\r\n+COPS: (2,\"CHINA MOBILE\",\"CMCC\",\"46000\",7),,(0,1,2,3,4),(0,1,2)\r\n\r\nOK\r\n"),
    ]);
}

#[test]
fn the_pdp_context_as_cgdcont_cgact_and_cgpaddr_show_it() {
    let mut r = Rig::new(DialectKind::Air780e);
    // GPRS/CGDCONT.md: +CGDCONT: 1,"IP","xz01.njm2mapn","10.173.90.29",0,0.
    r.script(&[
        ("AT+CGDCONT?", "\r\n+CGDCONT: 1,\"IP\",\"CMIOT\",\"10.104.48.68\",0,0\r\n\r\nOK\r\n"),
        ("AT+CGDCONT=2,\"IP\",\"cmnet\"", "\r\nOK\r\n"),
        ("AT+CGDCONT?", "\r\n+CGDCONT: 1,\"IP\",\"CMIOT\",\"10.104.48.68\",0,0\r\n\r\n+CGDCONT: 2,\"IP\",\"cmnet\",\"0.0.0.0\",0,0\r\n\r\nOK\r\n"),
    ]);
    let test = r.send("AT+CGDCONT=?");
    assert!(
        test.starts_with(
            "\r\n+CGDCONT: (1-15),\"IP\",,,,,(0),(0,2),(0),(0),(0,1),(0),(0,1),(0)\r\n"
        ) && test.matches("+CGDCONT: ").count() == 4
            && test.ends_with("\r\nOK\r\n"),
        "{test}"
    );
    // GPRS/CGPADDR.md: +CGACT: 1,1 then +CGPADDR: 1,"10.162.229.248".
    r.script(&[
        (
            "AT+CGACT?",
            "\r\n+CGACT: 1,1\r\n\r\n+CGACT: 2,0\r\n\r\nOK\r\n",
        ),
        (
            "AT+CGPADDR=1",
            "\r\n+CGPADDR: 1,\"10.104.48.68\"\r\n\r\nOK\r\n",
        ),
        (
            "AT+CGPADDR",
            "\r\n+CGPADDR: 1,\"10.104.48.68\"\r\n\r\n+CGPADDR: 2\r\n\r\nOK\r\n",
        ),
        ("AT+CGPADDR=?", "\r\n+CGPADDR: (1,2)\r\n\r\nOK\r\n"),
        ("AT+CGACT=?", "\r\n+CGACT: (0,1)\r\n\r\nOK\r\n"),
    ]);
    // Deactivating context 1 takes the MQTT link with it.
    r.connected();
    r.closes(|r| r.send("AT+CGACT=0,1"), "\r\nOK\r\n");
    r.script(&[
        ("AT+CGPADDR=1", "\r\n+CGPADDR: 1\r\n\r\nOK\r\n"),
        ("AT+MQTTSTATU", "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"),
        ("AT+CGACT=1,1", "\r\nOK\r\n"),
        (
            "AT+CGPADDR=1",
            "\r\n+CGPADDR: 1,\"10.104.48.68\"\r\n\r\nOK\r\n",
        ),
    ]);
}

#[test]
fn the_bearer_state_machine_as_the_tcp_guide_logs_it() {
    let mut r = Rig::new(DialectKind::Air780e);
    // TCPIP/使用方法举例.md and public/780EP_AT_TCP应用指南.md section 3.
    r.script(&[
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n"),
        ("AT+CIPMUX=0", "\r\nOK\r\n"),
        ("AT+CIPMUX?", "\r\n+CIPMUX: 0\r\n\r\nOK\r\n"),
        ("AT+CIPMUX=?", "\r\n+CIPMUX: (0,1)\r\n\r\nOK\r\n"),
        // CIICR before CSTT
        ("AT+CIICR", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CSTT", "\r\nOK\r\n"),
        // The same twice.
        ("AT+CSTT", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP START\r\n"),
        ("AT+CIPMUX=1", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIICR", "\r\nOK\r\n"),
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP GPRSACT\r\n"),
        ("AT+CIFSR", "\r\n10.104.48.68\r\n"),
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP STATUS\r\n"),
        (
            "AT+CSTT=?",
            "\r\n+CSTT: \"APN\",\"USER\",\"PWD\"\r\n\r\nOK\r\n",
        ),
        // A connect that fails prints the state first (MQTT/MIPSTART.md).
        ("AT+MIPSTART=\"h\",1883", "\r\nOK\r\n"),
    ]);
    assert_eq!(
        r.event(NetEventKind::ConnectFailed("refused".into())),
        "\r\nSTATE: IP STATUS\r\n\r\nCONNECT FAIL\r\n"
    );
    // The network takes the context: PDP DEACT until CIPSHUT.
    assert_eq!(r.pdn_deact_for(60).0, "\r\n+CGEV: NW PDN DEACT 1\r\n");
    r.script(&[
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: PDP DEACT\r\n"),
        ("AT+CSTT", "\r\n+CME ERROR: 3\r\n"),
        ("AT+CIPSHUT", "\r\nSHUT OK\r\n"),
        ("AT+CIFSR", "\r\nERROR\r\n"),
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n"),
        ("AT+CSTT=\"cmnet\",\"u\",\"p\"", "\r\nOK\r\n"),
        ("AT+CSTT?", "\r\n+CSTT: \"cmnet\",\"u\",\"p\"\r\n\r\nOK\r\n"),
        // With the MQTT link up, the single-link state is CONNECT OK.
        ("AT+CIPSHUT", "\r\nSHUT OK\r\n"),
    ]);
    r.fire(u64::MAX);
    r.connected();
    assert_eq!(
        r.send("AT+CIPSTATUS"),
        "\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n"
    );
}

#[test]
fn cfun_takes_the_radio_down_and_brings_it_back() {
    let mut r = rig_with("air780e", None);
    r.connected();
    // Device_control/CFUN.md; the issue's sequence: OK then +CGEV: ME DETACH.
    r.closes(
        |r| r.send("AT+CFUN=0"),
        "\r\nOK\r\n\r\n+CGEV: ME DETACH\r\n",
    );
    r.script(&[
        ("AT+CFUN?", "\r\n+CFUN: 0\r\n\r\nOK\r\n"),
        ("AT+CEREG?", "\r\n+CEREG: 0,0\r\n\r\nOK\r\n"),
        ("AT+CGATT?", "\r\n+CGATT: 0\r\n\r\nOK\r\n"),
        ("AT+MQTTSTATU", "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"),
        ("AT+MIPSTART=\"airtest.openluat.com\",1883", "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n\r\nCONNECT FAIL\r\n"),
        // Back on: the power-on lines from ^MODE on (seed 000 section 6.3 for V1169).
        ("AT+CFUN=1", "\r\nOK\r\n\r\n^MODE: 17,17\r\n\r\n+E_UTRAN Service\r\n\r\n+CGEV: ME PDN ACT 1,0\r\n\r\n+NITZ: 2024/08/23,06:52:50+0,0\r\n"),
        // Already on: nothing.
        ("AT+CFUN=1", "\r\nOK\r\n"),
        ("AT+CFUN=?", "\r\n+CFUN: (0,1,4),(0,1)\r\n\r\nOK\r\n"),
    ]);
    r.connected();
    // Flight mode is the same for the host.
    assert_eq!(r.send("AT+CFUN=4"), "\r\nOK\r\n\r\n+CGEV: ME DETACH\r\n");
    assert_eq!(
        r.fault(crate::fault::Register),
        "",
        "no registration with the radio off"
    );
}

#[test]
fn reset_and_power_cycle_boot_again_and_lose_unsaved_settings() {
    let boot_v1161 = "^boot.rom'v'!\\n\r\nRDY\r\n\r\n^MODE: 17,17\r\n\r\n+E_UTRAN Service\r\n\r\n+CGEV: ME PDN ACT 1\r\n\r\n+NITZ: 2024/08/23,06:52:50+0,0\r\n";
    let mut r = rig_with("air780e", Some("V1161"));
    let fx = r.engine.boot();
    assert_eq!(
        r.take(fx),
        boot_v1161,
        "the IPS99 log's lines, bootloader first"
    );
    r.connected();
    r.script(&[
        ("ATE0", "\r\nOK\r\n"),
        ("AT+CEREG=1", "\r\nOK\r\n"),
        ("AT+CMEE=2", "\r\nOK\r\n"),
        ("AT&W", "\r\nOK\r\n"),
        ("AT+CGREG=1", "\r\nOK\r\n"),
        ("AT+CSTT", "\r\nOK\r\n"),
    ]);
    // AT+RESET: OK first, then the link ends without DISCONNECT, then the boot lines.
    r.closes(
        |r| r.send("AT+RESET"),
        &format!("\r\nOK\r\n{boot_v1161}\r\n+CEREG: 1\r\n"),
    );
    r.script(&[
        // Saved.
        ("AT+CEREG?", "\r\n+CEREG: 1,1\r\n\r\nOK\r\n"),
        // Not saved.
        ("AT+CGREG?", "\r\n+CGREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CMEE?", "\r\n+CMEE: 2\r\n\r\nOK\r\n"),
        ("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n"),
        ("AT+MQTTSTATU", "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"),
        // The MCONFIG is gone too.
        ("AT+MCONNECT=1,60", "\r\n+CME ERROR: operation failed\r\n"),
        // ATZ restores the saved profile, AT&F the factory one.
        ("AT+CEREG=0", "\r\nOK\r\n"),
        ("ATZ", "\r\nOK\r\n"),
        ("AT+CEREG?", "\r\n+CEREG: 1,1\r\n\r\nOK\r\n"),
        // Echoed as it came: echo was off.
        ("AT&F", "\r\nOK\r\n"),
        // Factory: echo on, modes 0.
        ("AT+CEREG?", "AT+CEREG?\r\r\n+CEREG: 0,1\r\n\r\nOK\r\n"),
        // The saved profile: echo off.
        ("ATZ", "ATZ\r\r\nOK\r\n"),
    ]);
    // The fault and AT+CFUN=1,1 do the same.
    r.connected();
    r.closes(
        |r| r.fault(crate::fault::PowerCycle),
        &format!("{boot_v1161}\r\n+CEREG: 1\r\n"),
    );
    assert_eq!(
        r.send("AT+CFUN=1,1"),
        format!("\r\nOK\r\n{boot_v1161}\r\n+CEREG: 1\r\n")
    );
    assert!(r
        .fault(crate::fault::WatchdogReset)
        .starts_with("^boot.rom"));
    // V1165 detaches twice before its boot lines, and prints no RDY (the SIM guide's capture).
    let mut r = rig_with("air780e", Some("V1165"));
    assert_eq!(
        r.send("AT+RESET"),
        "\r\nOK\r\n\r\n+CGEV: ME DETACH\r\n\r\n+CGEV: ME DETACH\r\n\r\n^MODE: 17,17\r\n\r\n+E_UTRAN Service\r\n\r\n+CGEV: ME PDN ACT 1,0\r\n\r\n+NITZ: 2024/08/23,06:52:50+0, \r\n"
    );
}

#[test]
fn the_780ep_v1007_prints_its_own_lines() {
    // EPSIMG (V1007): hot-plug prints only the +CPIN lines; CGDCONT four fields.
    let mut r = rig_with("air780ep", None);
    assert_eq!(
        r.fault(crate::fault::SimRemoved),
        "\r\n+CPIN: SIM REMOVED 0\r\n"
    );
    assert_eq!(r.fault(crate::fault::SimInserted), "\r\n+CPIN: READY 0\r\n");
    r.script(&[
        ("AT+CGDCONT?", "\r\n+CGDCONT: 1,\"IP\",\"CMIOT\",\"10.104.48.68\"\r\n\r\nOK\r\n"),
        ("AT+CFUN=0", "\r\nOK\r\n\r\n+CGEV: ME DETACH\r\n"),
        ("AT+CFUN=1", "\r\nOK\r\n\r\n^MODE: 17,17\r\n\r\n+E_UTRAN Service\r\n\r\n+CGEV: ME PDN ACT 1\r\n\r\n+NITZ: 24/08/23,06:52:50+32, \r\n"),
        // The TCP/IP stack's switches.
        ("AT+CIPQSEND=1", "\r\nOK\r\n"),
        ("AT+CIPQSEND?", "\r\n+CIPQSEND: 1\r\n\r\nOK\r\n"),
        ("AT+CIPSSL=1", "\r\nOK\r\n"),
        ("AT+CIPMODE=0", "\r\nOK\r\n"),
        ("AT+WAKETIM?", "\r\n+WAKETIM:1\r\n\r\nOK\r\n"),
        ("AT+WAKETIM=8", "\r\nOK\r\n"),
    ]);
}

#[test]
fn the_mqtt_test_forms_are_the_manual_pages() {
    let mut r = Rig::new(DialectKind::Air780e);
    // luatos-doc-pool Command_List/MQTT/*.md.
    r.script(&[
        ("AT+MSUB=?", "\r\n+MSUB:<topic>,(0-2)\r\n\r\nOK\r\n"),
        ("AT+MUNSUB=?", "\r\n+MUNSUB:<topic>\r\n\r\nOK\r\n"),
        ("AT+MQTTMSGSET=?", "\r\n+MQTTMSGSET:(0,1)\r\n\r\nOK\r\n"),
        ("AT+MQTTMSGGET=?", "\r\nOK\r\n"),
        ("AT+MQTTSTATU=?", "\r\nOK\r\n"),
        ("AT+MQTTMODE=?", "\r\n+MQTTMODE: (0,1)\r\n\r\nOK\r\n"),
        ("AT+MCONNECT=?", "\r\n+MCONNECT:(0-1),(1-65535)\r\n\r\nOK\r\n"),
        ("AT+MPUB=?", "\r\n+MPUB:<topic>,(0-2),(0-1),<message>\r\n\r\nOK\r\n"),
        ("AT+MDISCONNECT=?", "\r\nOK\r\n"),
        ("AT+MIPCLOSE=?", "\r\nOK\r\n"),
        (
            "AT+MIPSTART=?",
            "\r\n+MIPSTART:\"(0,255).(0,255).(0,255).(0,255)\",(1-65535)\r\n\r\n+MIPSTART:\"DOMAIN NAME\",(1-65535)\r\n\r\nOK\r\n",
        ),
    ]);
}

#[test]
fn sim_without_a_card_and_cfun() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.fault(crate::fault::SimRemoved);
    r.script(&[
        ("AT+CIMI", "\r\n+CME ERROR: 10\r\n"),
        ("AT+ICCID", "\r\n+CME ERROR: 10\r\n"),
        // Already down: no URC.
        ("AT+CFUN=0", "\r\nOK\r\n"),
    ]);
    assert_eq!(
        r.fault(crate::fault::SimInserted),
        "\r\n+CPIN: READY 0\r\n",
        "radio off: only the SIM"
    );
}

// --- line ends as drivers send them (issue 10) ---

const EOLS: [&str; 3] = ["\r", "\r\n", "\n"];

#[test]
fn echo_of_each_terminator_precedes_the_answer() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.send("ATE1");
    for eol in EOLS {
        assert_eq!(
            r.raw(format!("AT{eol}").as_bytes()),
            format!("AT{eol}\r\nOK\r\n")
        );
        // Pipelined: one answer per command, no answer for the LF of a CR LF.
        assert_eq!(
            r.raw(format!("AT{eol}ATE1{eol}").as_bytes()),
            format!("AT{eol}\r\nOK\r\nATE1{eol}\r\nOK\r\n")
        );
    }
    // A CR LF cut in two by the UART: the LF is echoed when it comes, and answers nothing.
    assert_eq!(r.raw(b"AT\r"), "AT\r\r\nOK\r\n");
    assert_eq!(r.raw(b"\n"), "\n");
}

/// Payloads that start with LF, hold CR LF, NUL and `>`, after each line end: what the broker
/// gets is exactly the bytes after the terminator (a lone CR swallows an LF right after it, so
/// that payload starts otherwise: see framer.rs), and the next command is answered.
#[test]
fn mpubex_and_fswrite_take_exact_payloads_with_every_line_end() {
    for eol in EOLS {
        let payload: &[u8] = if eol == "\r" {
            b"\r\n>\0\nX"
        } else {
            b"\n\r\n>\0X"
        };
        let mut r = connected();
        let mut input = format!("AT+MPUBEX=\"t\",0,0,{}{eol}", payload.len()).into_bytes();
        input.extend_from_slice(payload);
        input.extend_from_slice(format!("AT{eol}").as_bytes());
        assert_eq!(r.raw(&input), "\r\n>\r\nOK\r\n\r\nOK\r\n", "eol {eol:?}");
        assert_eq!(r.published(), vec![payload.to_vec()], "eol {eol:?}");

        r.send("AT+FSCREATE=f");
        let mut input = format!("AT+FSWRITE=f,0,{},10{eol}", payload.len()).into_bytes();
        input.extend_from_slice(payload);
        input.extend_from_slice(format!("AT+FSREAD=f,0,100,0{eol}").as_bytes());
        let mut want = b"\r\n>\r\nOK\r\n\r\n".to_vec();
        want.extend_from_slice(payload);
        want.extend_from_slice(b"\r\n\r\nOK\r\n");
        assert_eq!(r.raw(&input).as_bytes(), &want[..], "eol {eol:?}");
    }
}

/// Issue 10: a driver verified on a real module never sends `AT+MCONFIG`; the module connects
/// with its default configuration (DIVERGENCES A25).
#[test]
fn mconnect_without_mconfig_uses_the_default_configuration() {
    let mut r = Rig::new(DialectKind::Air780e);
    assert_eq!(
        r.send("AT+MIPSTART=\"airtest.openluat.com\",\"1883\""),
        "\r\nOK\r\n"
    );
    assert_eq!(r.event(NetEventKind::Connected), "\r\nCONNECT OK\r\n");
    assert_eq!(r.send("AT+MCONNECT=1,60"), "\r\nOK\r\n");
    let Some(NetRequest::Mqtt {
        op: MqttOp::Connect(p),
        ..
    }) = r.net.last().cloned()
    else {
        panic!("a CONNECT: {:?}", r.net)
    };
    assert_eq!(p.client_id, Identity::default().imei);
    assert_eq!((p.username, p.password, p.will), (None, None, None));
    assert!(p.clean_session);
    assert_eq!(p.keepalive, 60);
    assert_eq!(
        r.event(NetEventKind::ConnAck(ConnectReturnCode::Success)),
        "\r\nCONNACK OK\r\n"
    );
}

/// A power cycle during an `AT+FSWRITE` prompt forgets the write (RAM), though the files stay:
/// the next prompt's bytes are its own. (Before the one `Pending`, the file system kept its
/// pending write over the reboot and took the next `AT+MPUBEX` payload into the file.)
#[test]
fn a_power_cycle_forgets_the_open_prompt() {
    let mut r = Rig::new(DialectKind::Air780e);
    r.script(&[
        ("AT+FSCREATE=f", "\r\nOK\r\n"),
        ("AT+FSWRITE=f,0,3,15", "\r\n>"),
    ]);
    r.fault(crate::fault::PowerCycle);
    r.send("ATE0");
    r.connected();
    assert_eq!(r.send("AT+MPUBEX=\"t\",0,0,3"), "\r\n>");
    assert_eq!(r.raw(b"abc"), "\r\nOK\r\n");
    assert_eq!(r.published(), vec![b"abc".to_vec()]);
    assert_eq!(r.send("AT+FSFLSIZE=f"), "\r\n+FSFLSIZE: 0\r\n\r\nOK\r\n");
}
