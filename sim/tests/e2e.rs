//! End to end through the real binary: a real PTY, a real broker, real processes and signals.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use modem_sim::broker::{Broker, BrokerConfig};
use rand::{Rng, SeedableRng};
use rumqttc::QoS;

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{
    cli, cli_ok, exit_within_wait, keep_polling, mosquitto_pub, mosquitto_sub, mqtt_client,
    next_publish, read_to_end_on_thread, server_message, temp_file, watcher, At, Mosquitto, Port,
    SimProcess, ROOT, WAIT,
};

#[test]
fn ready_file_banner_at_and_sigterm() {
    let link = tempfile::tempdir().unwrap().keep().join("ttyAIR");
    let mut sim = SimProcess::spawn(&["--link", link.to_str().unwrap()]);
    let tty = sim.field("tty");
    assert!(tty.starts_with("/dev/pts/"), "{tty}");
    assert!(
        sim.field("mqtt").starts_with("127.0.0.1:"),
        "{:?}",
        sim.ready
    );
    assert_ne!(
        sim.field("mqtt"),
        "127.0.0.1:0",
        "the real bound port is reported"
    );
    // The embedded broker's TLS listener is a second port.
    assert!(
        sim.field("mqtts").starts_with("127.0.0.1:"),
        "{:?}",
        sim.ready
    );
    assert_ne!(sim.field("mqtts"), sim.field("mqtt"));
    // Without --control, a private directory holds the control socket.
    let control = PathBuf::from(sim.field("control"));
    assert!(control.exists(), "{:?}", sim.ready);
    assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from(&tty));
    let mut port = Port::open(&link).booted();
    assert_eq!(port.at("AT", "OK\r\n"), "AT\r\r\nOK\r\n");
    let banner = sim.stop();
    assert!(
        banner.contains(&tty) && banner.contains(&sim.field("mqtt")),
        "{banner}"
    );
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "the link is removed on exit"
    );
    assert!(
        banner.contains(&format!("modem-sim inject --control {}", control.display())),
        "{banner}"
    );
    assert!(
        !control.exists() && !control.parent().unwrap().exists(),
        "the control socket and its directory are removed on exit"
    );
}

#[test]
fn random_garbage_then_at_still_works() {
    let sim = SimProcess::spawn(&[]);
    let mut port = sim.port();
    let mut rng = rand::rngs::StdRng::seed_from_u64(780);
    let garbage: Vec<u8> = (0..20 * 1024).map(|_| rng.random()).collect();
    for chunk in garbage.chunks(512) {
        port.send(chunk);
        // Keep draining the answers so neither side's buffer fills.
        port.drain(0);
    }
    let answer = port.at("\rAT+CGSN", "868488076771714\r\n\r\nOK\r\n");
    assert!(answer.ends_with("\r\n868488076771714\r\n\r\nOK\r\n"));
}

/// Echo off, then `feed`: the simulator's RSS grows by less than `bound_kib` meanwhile.
fn rss_grows_less_than(bound_kib: u64, what: &str, feed: impl FnOnce(&mut Port)) {
    let sim = SimProcess::spawn(&[]);
    let mut port = sim.port();
    port.at("ATE0", "OK\r\n");
    let before = sim.rss_kib();
    feed(&mut port);
    let grown = sim.rss_kib().saturating_sub(before);
    assert!(grown < bound_kib, "RSS grew by {grown} KiB {what}");
}

#[test]
fn a_megabyte_line_without_cr_gets_error_and_memory_stays_bounded() {
    rss_grows_less_than(8 * 1024, "for a 1 MiB line", |port| {
        let line = vec![b'A'; 1 << 20];
        let w = port.writer(move |tty| tty.write_all(&line).unwrap());
        assert_eq!(port.until("ERROR\r\n"), "\r\nERROR\r\n");
        w.join().unwrap();
        port.at("\rAT", "OK\r\n");
    });
}

/// A simulator with `--broker mqtt://<addr>` and `extra`, its port set up by `setup`, started
/// off the runtime's threads (it blocks).
async fn sim_on(
    addr: SocketAddr,
    extra: &'static [&'static str],
    setup: impl FnOnce(&mut Port) + Send + 'static,
) -> (SimProcess, Port) {
    let url = format!("mqtt://{addr}");
    let task = tokio::task::spawn_blocking(move || {
        let sim = SimProcess::spawn(&[&["--broker", url.as_str()], extra].concat());
        let mut port = sim.port();
        setup(&mut port);
        (sim, port)
    });
    task.await.unwrap()
}

/// The modem that `setup` connects (with `extra`) to a broker of the test's is killed: the
/// broker publishes its will, `payload` on `topic` at QoS 1.
async fn will_on_kill(
    extra: &'static [&'static str],
    setup: fn(&mut Port),
    topic: &str,
    payload: &[u8],
) {
    let broker = Broker::start(BrokerConfig::default()).await.unwrap();
    let (_client, mut ev) = watcher(broker.local_addr(), "watcher", topic, QoS::AtLeastOnce).await;
    let (sim, port) = sim_on(broker.local_addr(), extra, setup).await;
    sim.signal(nix::sys::signal::Signal::SIGKILL);
    let will = next_publish(&mut ev, topic).await;
    assert_eq!(&will.payload[..], payload);
    assert_eq!(will.qos, QoS::AtLeastOnce);
    drop((sim, port));
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_is_published_when_the_process_is_killed() {
    let setup = |port: &mut Port| {
        let config = "\"dev1\",root,luat123456,1,0,\"dev/status\",\"offline\"";
        port.mqtt_up(config, "\"lbsmqtt.airm2m.com\",\"1884\"");
    };
    will_on_kill(&[], setup, "dev/status", b"offline").await;
}

/// `mosquitto_sub` on `topic` until it has `count` messages and exits; what it printed. It
/// gives no sign that its subscription is in place, so `publish` runs until then.
fn mosquitto_sub_while(mqtt: &str, topic: &str, count: &str, mut publish: impl FnMut()) -> String {
    let mut sub = mosquitto_sub(mqtt, ROOT, topic, &["-C", count, "-W", "30"]);
    // Its stdout is block-buffered on a pipe: read it on a thread, wait with a deadline.
    let rx = read_to_end_on_thread(sub.stdout.take().unwrap());
    let deadline = Instant::now() + WAIT;
    let received = loop {
        publish();
        if let Ok(out) = rx.recv_timeout(Duration::from_millis(300)) {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "mosquitto_sub: nothing in {WAIT:?}"
        );
    };
    assert!(sub.wait().unwrap().success());
    String::from_utf8_lossy(&received).into_owned()
}

/// Seed 000 section 6.2 with the command-line tools a user would watch it with.
#[test]
fn mosquitto_clients_see_the_plain_flow() {
    let sim = SimProcess::spawn(&[]);
    let mqtt = sim.field("mqtt");
    let mut port = sim.port();
    let start = "\"airtest.openluat.com\",\"1883\"";
    port.mqtt_up("868488076771714,root,luat123456", start);
    port.at("AT+MSUB=\"mqtt/pub\",0", "SUBACK\r\n");
    // Publish (QoS 0, as in the guide) until mosquitto_sub has received one message.
    let received = mosquitto_sub_while(&mqtt, "mqtt/sub", "1", || {
        port.at("AT+MPUB=\"mqtt/sub\",0,0,\"data from 4G module\"", "OK\r\n");
    });
    assert_eq!(received, "data from 4G module\n");

    mosquitto_pub(&mqtt, "mqtt/pub", "data from tcp server");
    let out = port.until("server\r\n");
    assert!(
        out.ends_with("\r\n+MSUB: \"mqtt/pub\",20 byte,data from tcp server\r\n"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_wins_over_broker_and_a_dead_port_is_connect_fail() {
    let broker = Broker::start(BrokerConfig::default()).await.unwrap();
    // A port nothing listens on: bind, read the port, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let args = [
        "--broker".to_string(),
        format!("mqtt://{dead}"),
        "--resolve".to_string(),
        format!("airtest.openluat.com={}", broker.local_addr()),
    ];
    tokio::task::spawn_blocking(move || {
        let sim = SimProcess::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(sim.field("mqtt"), "", "no embedded broker with --broker");
        let mut port = sim.port();
        port.at("ATE0", "OK\r\n");
        port.at("AT+MCONFIG=dev2,root,luat123456", "OK\r\n");
        assert_eq!(
            port.at("AT+MIPSTART=\"lbsmqtt.airm2m.com\",1884", "FAIL\r\n"),
            "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n\r\nCONNECT FAIL\r\n"
        );
        port.ok_then(
            "AT+MIPSTART=\"AIRTEST.openluat.com\",1883",
            "CONNECT OK\r\n",
        );
        port.ok_then("AT+MCONNECT=1,60", "CONNACK OK\r\n");
    })
    .await
    .unwrap();
    broker.shutdown().await;
}

#[test]
fn bad_arguments_are_explained() {
    let run = |args: &[&str]| {
        let out = cli(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), err)
    };
    let (code, err) = run(&["--resolve", "airtest.openluat.com"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("NAME=HOST:PORT"), "{err}");
    let (code, err) = run(&["--broker", "http://127.0.0.1:1883"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("mqtt://HOST:PORT"), "{err}");
    let (code, err) = run(&["--dialect", "sim800"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("air780e or l610"), "{err}");
    // `l610` is a dialect now: it starts (see the l610_* tests), so a bad value next to it is
    // what fails.
    let (code, err) = run(&["--dialect", "l610", "--broker", "mqtt://nowhere"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is not HOST:PORT"), "{err}");
    // A fleet has 1..=4000 modems (the system allows 4096 PTYs in all).
    for n in ["0", "4001", "many"] {
        let (code, err) = run(&["--count", n]);
        assert_eq!(code, Some(2), "--count {n}");
        assert!(err.contains("--count"), "{err}");
    }
    // --serial names an endpoint it knows.
    for bad in [
        "tcp://127.0.0.1:1",
        "tcp-listen://nowhere",
        "rfc2217://127.0.0.1:99999",
    ] {
        let (code, err) = run(&["--serial", bad]);
        assert_eq!(code, Some(2), "--serial {bad}");
        assert!(err.contains("--serial") && err.contains(bad), "{err}");
    }
    let (code, err) = run(&["--serial", "tcp-listen://127.0.0.1:0", "--link", "/tmp/x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--link"), "{err}");
    // Distinct IMEIs are counted up from --imei, which must then be a number.
    let (code, err) = run(&["--count", "2", "--imei", "abc"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--imei abc is not a number"), "{err}");
}

/// Seed 002 section 3.3 through the binary: the boot URCs wait in the tty, echo is on, the
/// data call and MQTT results are URCs, and mosquitto_sub / mosquitto_pub see the traffic.
#[test]
fn l610_boots_and_runs_the_guide_flow_with_mosquitto_clients() {
    let mut sim = SimProcess::spawn(&["--dialect", "l610"]);
    assert_eq!(sim.field("dialect"), "l610");
    let mqtt = sim.field("mqtt");
    let mut port = sim.raw_port();
    // Powered on before anyone opened the tty: the URCs are the first bytes there.
    assert_eq!(
        port.until("+SIM READY\r\n"),
        "\r\nAT command ready\r\n\r\n+SIM READY\r\n"
    );
    assert_eq!(port.at("AT", "OK\r\n"), "AT\r\r\nOK\r\n", "echo is on");
    assert_eq!(port.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
    port.ok_then("AT+MIPCALL=1", "+MIPCALL: 10.104.48.68\r\n");
    port.at("AT+MQTTUSER=1,\"root\",\"luat123456\"", "OK\r\n");
    let open = "AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",1883,0,60";
    port.ok_then(open, "+MQTTOPEN: 1,1\r\n");
    port.at("AT+MQTTSUB=1,\"down\",0", "+MQTTSUB: 1,1\r\n");
    // Both forms (QoS 0 as in the guide) until mosquitto_sub has two messages.
    let text = mosquitto_sub_while(&mqtt, "up", "2", || {
        port.at("AT+MQTTPUB=1,\"up\",0,0,\"123\"", "+MQTTPUB: 1,1\r\n");
        assert_eq!(port.at("AT+MQTTPUB=1,\"up\",0,0,5", ">"), "\r\n>");
        port.send(b"\"1\r\n\"");
        let answer = port.until("+MQTTPUB: 1,1\r\n");
        assert_eq!(answer, "\r\nOK\r\n\r\n+MQTTPUB: 1,1\r\n");
    });
    assert!(
        text == "123\n\"1\r\n\"\n" || text == "\"1\r\n\"\n123\n",
        "{text:?}"
    );
    mosquitto_pub(&mqtt, "down", "from mosquitto_pub");
    assert!(port
        .until("mosquitto_pub\r\n")
        .ends_with("\r\n+MQTTMSG: 1, 0, down, from mosquitto_pub\r\n"));
    port.ok_then("AT+MQTTCLOSE=1", "+MQTTCLOSE: 1,1\r\n");
    port.ok_then("AT+MIPCALL=0", "+MIPCALL: 0\r\n");
    let banner = sim.stop();
    assert!(banner.contains("simulated l610 ready"), "{banner}");
}

/// Seed 002 section 3.2: `AT+MQTTWILL` before `AT+MQTTOPEN`; a power cut lets the broker publish
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l610_will_is_published_when_the_process_is_killed() {
    let setup = |port: &mut Port| {
        port.at("AT+MIPCALL=1", "+MIPCALL: 10.104.48.68\r\n");
        port.at(
            "AT+MQTTUSER=1,\"root\",\"luat123456\",\"l610-will\"",
            "OK\r\n",
        );
        let will = "AT+MQTTWILL=1,\"test1\",1,0,\"disconnect unexpectedly\"";
        port.at(will, "OK\r\n");
        let open = "AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",1883,0,60";
        port.at(open, "+MQTTOPEN: 1,1\r\n");
    };
    let l610 = &["--dialect", "l610"];
    will_on_kill(l610, setup, "test1", b"disconnect unexpectedly").await;
}

#[test]
fn sigterm_exits_even_when_the_host_stopped_reading() {
    let mut sim = SimProcess::spawn(&[]);
    let mut port = sim.port();
    // Far more answer bytes than a PTY buffers, and never read.
    for _ in 0..200 {
        port.send(&b"ATI\r".repeat(50));
    }
    sim.signal(nix::sys::signal::Signal::SIGTERM);
    let status = exit_within_wait(&mut sim.child, "modem-sim after SIGTERM");
    assert!(status.success(), "{status:?}");
}

/// Seed 000 section 6.2 through `--broker` to a separately started Mosquitto with password
/// auth; and a wrong password, which Mosquitto refuses, reads as `CLOSED` (DIVERGENCES A5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_flow_through_broker_flag_to_mosquitto() {
    let mosquitto = Mosquitto::start();
    let addr = mosquitto.addr;
    let (client, mut ev) = watcher(addr, "tool", "mqtt/sub", QoS::AtMostOnce).await;
    let (sim, mut port) = sim_on(addr, &[], |port| {
        port.at("ATE0", "OK\r\n");
        port.at("AT+MCONFIG=868488076771714,root,wrong", "OK\r\n");
        let start = "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"";
        port.at(start, "CONNECT OK\r\n");
        let refused = port.at("AT+MCONNECT=1,60", "CLOSED\r\n");
        assert_eq!(refused, "\r\nOK\r\n\r\nCLOSED\r\n");
        let statu = port.at("AT+MQTTSTATU", "OK\r\n");
        assert_eq!(statu, "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n");
        port.at("AT+MIPCLOSE", "\r\n");
        let start = "\"airtest.openluat.com\",\"1883\"";
        port.mqtt_up("868488076771714,root,luat123456", start);
        port.at("AT+MSUB=\"mqtt/pub\",0", "SUBACK\r\n");
        port.at("AT+MPUB=\"mqtt/sub\",0,0,\"data from 4G module\"", "OK\r\n");
    })
    .await;
    let got = next_publish(&mut ev, "mqtt/sub").await;
    assert_eq!(&got.payload[..], b"data from 4G module");
    server_message(&client).await;
    // The client's event loop must keep running for the publish to leave.
    let poller = keep_polling(ev);
    let printed = tokio::task::spawn_blocking(move || port.until("server\r\n"))
        .await
        .unwrap();
    poller.abort();
    assert!(
        printed.ends_with("\r\n+MSUB: \"mqtt/pub\",20 byte,data from tcp server\r\n"),
        "{printed:?}"
    );
    drop(sim);
}

#[path = "support/malformed.rs"]
#[allow(dead_code)]
mod malformed;

/// Each row of a malformed-input `table`, in file order: `enter` takes the modem from the
/// state it is in to the row's; the input gets the row's answer and nothing else, `AT` is then
/// answered `OK`, and `reset` puts back the settings some rows change.
fn malformed_table(
    port: &mut Port,
    table: &str,
    mut enter: impl FnMut(&mut Port, &str, &str),
    reset: &[(&str, &str)],
) {
    // The power-on lines wait in the PTY buffer; the first OK is past them.
    port.at("ATE0", "OK\r\n");
    let mut state = "idle".to_string();
    for case in malformed::malformed_cases(table) {
        if case.state != state {
            enter(port, &state, &case.state);
            state = case.state.clone();
        }
        port.send(&case.input);
        let expected = String::from_utf8_lossy(&case.expected).into_owned();
        assert_eq!(port.until(&expected), expected, "{}", case.why);
        let why = &case.why;
        assert_eq!(port.at("AT", "OK\r\n"), "\r\nOK\r\n", "AT after: {why}");
        for (cmd, answer) in reset {
            port.at(cmd, answer);
        }
    }
}

/// The malformed-input table through the real binary, the PTY and the embedded broker.
#[test]
fn malformed_input_table_through_the_pty() {
    let sim = SimProcess::spawn(&[]);
    let enter = |port: &mut Port, _: &str, to: &str| {
        if to == "connected" {
            port.mqtt_up("dev,root,luat123456", "\"h\",1883");
        } else {
            port.at("AT+MIPCLOSE", "OK\r\n");
        }
    };
    // Settings some rows change go back to the defaults.
    let reset = [
        ("AT+CMEE=1", "OK\r\n"),
        ("AT+MQTTMODE=0", "OK\r\n"),
        ("AT+CIPSHUT", "SHUT OK\r\n"),
    ];
    let table = include_str!("../../fixtures/malformed/air780e.tsv");
    malformed_table(&mut sim.port(), table, enter, &reset);
}

/// The L610's malformed-input table through the real binary, the PTY and the embedded broker.
/// Rows run in file order: idle, then with the data call up, then with client 1 open.
#[test]
fn l610_malformed_input_table_through_the_pty() {
    let sim = SimProcess::spawn(&["--dialect", "l610"]);
    let enter = |port: &mut Port, from: &str, to: &str| {
        let order = ["idle", "called", "connected"];
        let at = |s: &str| order.iter().position(|o| *o == s);
        let (from, to) = (at(from).unwrap(), at(to).expect("a known state"));
        assert!(to > from, "the table goes idle, called, connected");
        if from == 0 {
            port.at("AT+MIPCALL=1", "OK\r\n");
            port.until("\r\n+MIPCALL: ");
            port.until("\r\n");
        }
        if to == 2 {
            port.at("AT+MQTTUSER=1,\"root\",\"luat123456\"", "OK\r\n");
            port.at("AT+MQTTOPEN=1,\"h\",1883,0,60", "+MQTTOPEN: 1,1\r\n");
        }
    };
    // Rows that number their errors go back to the L610's default.
    let table = include_str!("../../fixtures/malformed/l610.tsv");
    malformed_table(&mut sim.port(), table, enter, &[("AT+CMEE=0", "OK\r\n")]);
}

const NO_LOSS: usize = 10_000;

/// 10,000 QoS 1 messages up through `AT+MPUB` arrive at a subscriber exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_qos1_up_exactly_once_in_order() {
    let broker = Broker::start(BrokerConfig::default()).await.unwrap();
    let addr = broker.local_addr();
    let (_client, mut ev) = watcher(addr, "collector", "noloss/up", QoS::AtLeastOnce).await;
    let collector = tokio::spawn(async move {
        let mut got = Vec::with_capacity(NO_LOSS);
        while got.len() < NO_LOSS {
            let p = next_publish(&mut ev, "noloss/up").await;
            got.push(String::from_utf8_lossy(&p.payload).into_owned());
        }
        got
    });
    let (sim, _port) = sim_on(addr, &[], |port| {
        port.at("ATE0", "OK\r\n");
        port.mqtt_up("up,root,luat123456", "\"h\",1883");
        for i in 0..NO_LOSS {
            // One QoS 1 publish in flight at a time, as on the module.
            let answer = port.at(&format!("AT+MPUB=\"noloss/up\",1,0,\"{i}\""), "PUBACK\r\n");
            assert_eq!(answer, "\r\nOK\r\n\r\nPUBACK\r\n", "message {i}");
        }
    })
    .await;
    let got = tokio::time::timeout(Duration::from_secs(60), collector)
        .await
        .expect("all arrive")
        .unwrap();
    let want: Vec<String> = (0..NO_LOSS).map(|i| i.to_string()).collect();
    assert!(
        got == want,
        "first difference at {:?}",
        got.iter().zip(&want).position(|(a, b)| a != b)
    );
    drop(sim);
    broker.shutdown().await;
}

/// 10,000 QoS 1 messages published to the modem's subscription come out as `+MSUB`
/// exactly once, in order, however fast they arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_qos1_down_exactly_once_in_order() {
    let broker = Broker::start(BrokerConfig::default()).await.unwrap();
    let addr = broker.local_addr();
    let (sim, mut port) = sim_on(addr, &[], |port| {
        port.at("ATE0", "OK\r\n");
        port.mqtt_up("down,root,luat123456", "\"h\",1883");
        port.at("AT+MSUB=\"noloss/down\",1", "SUBACK\r\n");
    })
    .await;
    let (client, ev) = mqtt_client(addr, "source");
    let poller = keep_polling(ev);
    let publisher = tokio::spawn(async move {
        for i in 0..NO_LOSS {
            let qos = QoS::AtLeastOnce;
            client
                .publish("noloss/down", qos, false, i.to_string())
                .await
                .unwrap();
        }
        client
    });
    tokio::task::spawn_blocking(move || {
        for i in 0..NO_LOSS {
            let payload = i.to_string();
            let line = format!(
                "\r\n+MSUB: \"noloss/down\",{} byte,{payload}\r\n",
                payload.len()
            );
            assert_eq!(
                port.until(&line),
                line,
                "message {i}: nothing else (no duplicate, no gap) before it"
            );
        }
    })
    .await
    .unwrap();
    let _client = publisher.await.unwrap();
    poller.abort();
    drop(sim);
    broker.shutdown().await;
}

#[test]
fn memory_stays_bounded_under_ten_megabytes_of_garbage() {
    rss_grows_less_than(16 * 1024, "under 10 MiB of garbage", |port| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(10);
        let w = port.writer(move |tty| {
            let mut chunk = vec![0u8; 64 * 1024];
            for _ in 0..160 {
                rng.fill(&mut chunk[..]);
                tty.write_all(&chunk).unwrap();
            }
        });
        // Drain the answers while the garbage goes in.
        while !w.is_finished() {
            port.drain(50);
        }
        w.join().unwrap();
        port.at("\rAT+CGSN", "868488076771714\r\n\r\nOK\r\n");
    });
}

/// Certificates written over the PTY, AT+SSLMIPSTART to the binary's embedded mutual-TLS
/// listener, and an independent TLS client (mosquitto_pub, OpenSSL) publishing to the modem
/// through the same listener with the committed certs/ PKI; the ready file and the banner
/// give the listener and its CA.
#[test]
fn mutual_tls_through_the_binary_with_certificates_written_over_the_pty() {
    use std::io::BufRead;
    let mut sim = SimProcess::spawn(&["--tls-client-auth"]);
    let mqtts = sim.field("mqtts");
    let (host, port_no) = mqtts.rsplit_once(':').expect("the ready file gives mqtts");
    let certs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../certs")
        .canonicalize()
        .unwrap();
    assert_eq!(Path::new(&sim.field("ca")), certs.join("ca.crt"));
    let banner: Vec<String> = std::io::BufReader::new(sim.child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("try:"))
        .collect();
    let tls_line = banner
        .iter()
        .find(|l| l.contains("tls:"))
        .expect("a tls line");
    assert!(
        tls_line.contains(&mqtts) && tls_line.contains("ca.crt") && tls_line.contains("mutual"),
        "{tls_line}"
    );

    let mut port = sim.port();
    for (name, key) in [("ca.crt", "cacert"), ("client.crt", "clientcert")]
        .into_iter()
        .chain([("client.key", "clientkey")])
    {
        port.fs_write(name, &std::fs::read(certs.join(name)).unwrap(), "\r");
        port.at(&format!("AT+SSLCFG=\"{key}\",88,\"{name}\""), "OK\r\n");
    }
    port.at("AT+SSLCFG=\"seclevel\",88,2", "OK\r\n");
    port.at("AT+MCONFIG=868488076771714,root,luat123456", "OK\r\n");
    let start = "AT+SSLMIPSTART=\"lbsmqtt.airm2m.com\",8883";
    port.at(start, "CONNECT OK\r\n");
    port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n");
    port.at("AT+MSUB=\"mqtt/pub\",0", "SUBACK\r\n");

    let pem = |f: &str| certs.join(f).display().to_string();
    let publish = |with_client_cert: bool| {
        let mut cmd = Command::new("mosquitto_pub");
        cmd.args(["-h", host, "-p", port_no, "--cafile", &pem("ca.crt")])
            .args(["-u", "root", "-P", "luat123456", "-t", "mqtt/pub"])
            .args(["-m", "data over tls"])
            .stderr(Stdio::null());
        if with_client_cert {
            cmd.args(["--cert", &pem("client.crt"), "--key", &pem("client.key")]);
        }
        cmd.status()
            .expect("mosquitto_pub is installed (apt-get install mosquitto-clients)")
    };
    // Mutual TLS: without a client certificate the listener refuses OpenSSL too.
    assert!(!publish(false).success());
    assert!(publish(true).success());
    let out = port.until("over tls\r\n");
    assert!(
        out.ends_with("\r\n+MSUB: \"mqtt/pub\",13 byte,data over tls\r\n"),
        "{out:?}"
    );
}

/// `modem-sim certs` writes a PKI that OpenSSL verifies, for every host name of the seeds.
#[test]
fn certs_subcommand_writes_a_pki_openssl_accepts() {
    let dir = tempfile::tempdir().unwrap();
    cli_ok(&["certs", "--out", dir.path().to_str().unwrap()]);
    let verify = |args: &[&str], cert: &str| {
        let mut cmd = Command::new("openssl");
        cmd.arg("verify").args(args).arg("-CAfile");
        cmd.arg(dir.path().join("ca.crt"))
            .arg(dir.path().join(cert));
        cmd.output().expect("openssl is installed")
    };
    for host in [
        "localhost",
        "airtest.openluat.com",
        "lbsmqtt.airm2m.com",
        "g510.mqtt.iot.bj.baidubce.com",
    ] {
        let out = verify(
            &["-purpose", "sslserver", "-verify_hostname", host],
            "server.crt",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{host}: {text}");
    }
    let out = verify(&["-purpose", "sslclient"], "client.crt");
    assert!(out.status.success());
    let out = verify(&["-verify_hostname", "example.com"], "server.crt");
    assert!(
        !out.status.success(),
        "a name not in the SANs must not verify"
    );
}

/// `--count 5`: five modems in one process, each on its own tty (and `--link PATH-i`), each
/// with its own IMEI and its own MQTT session on the one shared embedded broker. All five are
/// connected at once under distinct client ids (a shared or colliding session would be taken
/// over and lose its PUBACK), and SIGTERM removes every link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_five_modems_in_one_process() {
    const N: usize = 5;
    let link = tempfile::tempdir().unwrap().keep().join("ttyFLEET");
    let link_arg = link.to_str().unwrap().to_string();
    let args = [
        "--count",
        "5",
        "--link",
        &link_arg,
        "--imei",
        "860000000000100",
    ]
    .map(String::from);
    let spawn = move || SimProcess::spawn(&args.each_ref().map(String::as_str));
    let sim = tokio::task::spawn_blocking(spawn).await.unwrap();
    let ttys = sim.ttys();
    assert_eq!(ttys.len(), N, "{:?}", sim.ready);
    assert_eq!(sim.field("tty"), ttys[0], "tty stays the first modem's");
    let unique: std::collections::BTreeSet<_> = ttys.iter().collect();
    assert_eq!(unique.len(), N, "each modem has its own tty: {ttys:?}");
    let links: Vec<PathBuf> = (0..N)
        .map(|i| PathBuf::from(format!("{}-{i}", link.display())))
        .collect();
    for (l, t) in links.iter().zip(&ttys) {
        assert_eq!(std::fs::read_link(l).unwrap(), PathBuf::from(t));
    }
    let (_client, mut ev) = watcher(sim.mqtt(), "fleet-watch", "fleet/#", QoS::AtLeastOnce).await;
    let collector = tokio::spawn(async move {
        let mut got = std::collections::BTreeMap::new();
        tokio::time::timeout(WAIT, async {
            while got.len() < N {
                if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) =
                    ev.poll().await.expect("subscriber connection")
                {
                    got.insert(
                        p.topic.clone(),
                        String::from_utf8_lossy(&p.payload).into_owned(),
                    );
                }
            }
        })
        .await
        .expect("every modem's message arrives");
        got
    });
    let links_for_ports = links.clone();
    let mut sim = tokio::task::spawn_blocking(move || {
        let mut ports: Vec<Port> = links_for_ports
            .iter()
            .map(|l| Port::open(l).booted())
            .collect();
        for (i, port) in ports.iter_mut().enumerate() {
            assert_eq!(port.at("AT", "OK\r\n"), "AT\r\r\nOK\r\n", "modem {i}");
            port.at("ATE0", "OK\r\n");
            let imei = format!("8600000000001{:02}", i);
            let cgsn = port.at("AT+CGSN", "OK\r\n");
            assert!(cgsn.contains(&imei), "modem {i}: {cgsn:?}");
            let config = format!("fleet-{i},root,luat123456");
            port.mqtt_up(&config, "\"lbsmqtt.airm2m.com\",1883");
        }
        // Only once all five sessions are up: each still owns its session.
        for (i, port) in ports.iter_mut().enumerate() {
            let publish = format!("AT+MPUB=\"fleet/{i}\",1,0,\"from {i}\"");
            let answer = port.at(&publish, "PUBACK\r\n");
            assert_eq!(answer, "\r\nOK\r\n\r\nPUBACK\r\n", "modem {i}");
        }
        sim
    })
    .await
    .unwrap();
    let got = collector.await.unwrap();
    let want: std::collections::BTreeMap<String, String> = (0..N)
        .map(|i| (format!("fleet/{i}"), format!("from {i}")))
        .collect();
    assert_eq!(got, want);
    // SIGTERM: exit 0.
    tokio::task::spawn_blocking(move || sim.stop())
        .await
        .unwrap();
    for l in &links {
        assert!(
            std::fs::symlink_metadata(l).is_err(),
            "{} is removed on exit",
            l.display()
        );
    }
}

/// `--model air780ep --firmware V1007`: ATI prints `AirM2M_780EP_V1007_LTE_AT` (luatos-doc-pool
/// Command_List/Base/ATI.md); `--iccid`, `--imsi` and `--time` are what the module reports.
#[test]
fn model_firmware_and_identity_flags() {
    let sim = SimProcess::spawn(&[
        "--model",
        "air780ep",
        "--firmware",
        "V1007",
        "--iccid",
        "898604981022C0254186",
        "--imsi",
        "460081899904186",
        "--time",
        "2024-08-27T06:36:38Z",
    ]);
    let mut port = sim.raw_port();
    let boot = port.until("+NITZ: 24/08/27,06:36:");
    assert!(boot.starts_with("\r\nRDY\r\n"), "{boot:?}");
    port.until("\r\n");
    port.at("ATE0", "OK\r\n");
    port.info("ATI", "AirM2M_780EP_V1007_LTE_AT");
    port.info("AT+ICCID", "+ICCID: 898604981022C0254186");
    port.info("AT+CIMI", "460081899904186");
    let clk = port.at("AT+CCLK?", "OK\r\n");
    assert!(clk.starts_with("\r\n+CCLK: \"24/08/27,06:3"), "{clk:?}");
    // The 780EP's <ber>.
    port.info("AT+CSQ", "+CSQ: 29,0");
    // A firmware with a bootloader line in its log prints it first.
    let sim = SimProcess::spawn(&["--model", "air780ep", "--firmware", "V1010"]);
    let mut port = sim.raw_port();
    assert_eq!(port.until("RDY\r\n"), "^boot.rom.'v....'!\\n\r\nRDY\r\n");
}

/// Bad profile and identity flags are refused with exit 2 and a message naming the flag.
#[test]
fn bad_model_firmware_and_identity_flags_are_refused() {
    for (args, why) in [
        (&["--model", "air999"][..], "--model"),
        (&["--firmware", "a b"][..], "--firmware"),
        (&["--imsi", "12"][..], "IMSI"),
        (&["--iccid", "1234"][..], "ICCID"),
        (&["--time", "yesterday"][..], "time"),
        (
            &["--model", "air780e", "--dialect", "l610"][..],
            "--dialect",
        ),
    ] {
        let out = cli(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

/// `--timing realistic` (the binary's default; the other tests pass `--timing fast`): an L610
/// connect the broker refuses (a wrong password) answers `OK`, then nothing, then
/// `+MQTTOPEN: 1,0` more than a second later, as a real L610 does (issue 12: 1.4-4.6 s).
/// A lower bound only: a slower machine can only make the gap longer.
#[test]
fn l610_refused_connect_under_realistic_timing_is_ok_silence_then_the_urc() {
    let mut sim = SimProcess::spawn(&["--dialect", "l610", "--timing", "realistic", "--seed", "3"]);
    let mut port = sim.raw_port();
    port.until("+SIM READY\r\n");
    port.at("ATE0", "OK\r\n");
    // The data call's URC comes after its own delay.
    assert_eq!(port.at("AT+MIPCALL=1", "OK\r\n"), "\r\nOK\r\n");
    assert_eq!(port.until("68\r\n"), "\r\n+MIPCALL: 10.104.48.68\r\n");
    port.at("AT+MQTTUSER=1,\"root\",\"wrong password\"", "OK\r\n");
    assert_eq!(
        port.at("AT+MQTTOPEN=1,\"broker.example.com\",1883,0,60", "OK\r\n"),
        "\r\nOK\r\n"
    );
    let ok_at = Instant::now();
    let urc = port.until("+MQTTOPEN: 1,0\r\n");
    let gap = ok_at.elapsed();
    // Silence between: nothing but the URC itself.
    assert_eq!(urc, "\r\n+MQTTOPEN: 1,0\r\n");
    assert!(gap > Duration::from_secs(1), "{gap:?}");
    let banner = sim.stop();
    assert!(banner.contains("timing: realistic delays"), "{banner}");
    assert!(banner.contains("seed 3 (--seed 3 repeats them"), "{banner}");
}

/// The test helpers run `--timing fast`; its banner says so, and a bad profile is refused
/// with the reason and exit 2.
#[test]
fn timing_fast_banner_and_bad_profiles_are_explained() {
    let mut sim = SimProcess::spawn(&[]);
    let banner = sim.stop();
    assert!(
        banner.contains("timing: fast (answers as soon as the network does"),
        "{banner}"
    );
    let profile = "name = \"slow\"\n[delays.conack]\nmedian_ms = 5\nsource = \"x\"\n";
    let (_dir, bad) = temp_file("slow.toml", profile);
    let out = cli(&["--timing", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("slow.toml") && err.contains("conack"), "{err}");
}

/// `--count 3 -v`: every log line about a modem says which one (`fleet{modem=i}` and its tty),
/// and every line about a link says which link too (`link{id=...}`), through the real binary.
#[test]
fn fleet_logs_say_which_modem_and_which_link() {
    let (_dir, log) = temp_file("stderr.log", "");
    let stderr = std::fs::File::create(&log).unwrap();
    let mut sim = SimProcess::spawn_with(&["--count", "3", "-v"], |cmd| {
        cmd.env_remove("RUST_LOG").stderr(stderr);
    });
    let ttys = sim.ttys();
    assert_eq!(ttys.len(), 3);
    // Each modem gets its own command; modem 1 also opens a link to the broker.
    for (i, tty) in ttys.iter().enumerate() {
        let mut port = Port::open(Path::new(tty)).booted();
        port.send(format!("AT+CSQ;+CGSN{i}\r\n").as_bytes());
        port.until("\r\n");
        if i == 1 {
            port.ok("AT+MCONFIG=dev1,root,luat123456");
            let start = "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"";
            port.line(start, "\r\n", "CONNECT OK\r\n");
        }
    }
    sim.signal(nix::sys::signal::Signal::SIGTERM);
    let _ = sim.child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    for (i, tty) in ttys.iter().enumerate() {
        let span = format!("fleet{{modem={i}}}:modem{{uart={tty}}}");
        let own = format!("+CGSN{i}");
        assert!(
            text.lines()
                .any(|l| l.contains(&span) && l.contains("uart ->") && l.contains(&own)),
            "no `uart ->` line for modem {i} with its span {span}:\n{text}"
        );
    }
    // Every line about the UART or a link is inside a modem's span.
    let about_a_modem = |l: &&str| {
        ["uart ->", "uart <-", "opening link", "TCP connected"]
            .iter()
            .any(|m| l.contains(m))
    };
    let lines: Vec<&str> = text.lines().filter(about_a_modem).collect();
    assert!(lines.len() >= 6, "{text}");
    for l in &lines {
        assert!(l.contains("fleet{modem="), "a line without its modem: {l}");
    }
    let tcp = format!("fleet{{modem=1}}:modem{{uart={}}}:link{{id=", ttys[1]);
    assert!(
        text.lines()
            .any(|l| l.contains(&tcp) && l.contains("TCP connected")),
        "no `TCP connected` line inside modem 1's link span:\n{text}"
    );
}
