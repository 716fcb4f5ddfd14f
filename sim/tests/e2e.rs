//! End to end through the real binary: a real PTY, a real broker, real processes and signals.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use modem_sim::broker::{Broker, BrokerConfig};
use rand::{Rng, SeedableRng};

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{next_publish, subscribed, At, Mosquitto, Port, SimProcess, WAIT};

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
    sim.signal(nix::sys::signal::Signal::SIGTERM);
    let status = sim.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut banner = String::new();
    sim.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut banner)
        .unwrap();
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
        let mut buf = [0u8; 65536];
        let mut fds = [nix::poll::PollFd::new(
            port.file.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        while nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).unwrap() > 0 {
            let _ = (&port.file).read(&mut buf).unwrap();
        }
    }
    let answer = port.at("\rAT+CGSN", "868488076771714\r\n\r\nOK\r\n");
    assert!(answer.ends_with("\r\n868488076771714\r\n\r\nOK\r\n"));
}

#[test]
fn a_megabyte_line_without_cr_gets_error_and_memory_stays_bounded() {
    let sim = SimProcess::spawn(&[]);
    let mut port = sim.port();
    port.at("ATE0", "OK\r\n");
    let before = sim.rss_kib();
    let line = vec![b'A'; 1 << 20];
    let mut writer = port.file.try_clone().unwrap();
    let w = std::thread::spawn(move || writer.write_all(&line).unwrap());
    assert_eq!(port.until("ERROR\r\n"), "\r\nERROR\r\n");
    w.join().unwrap();
    port.at("\rAT", "OK\r\n");
    let grown = sim.rss_kib().saturating_sub(before);
    assert!(grown < 8 * 1024, "RSS grew by {grown} KiB for a 1 MiB line");
}

fn mqtt_client(addr: std::net::SocketAddr, id: &str) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut o = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
    o.set_credentials("root", "luat123456");
    rumqttc::AsyncClient::new(o, 16)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_is_published_when_the_process_is_killed() {
    let broker = Broker::start(BrokerConfig::default()).await.unwrap();
    let addr = broker.local_addr();
    let (client, mut ev) = mqtt_client(addr, "watcher");
    client
        .subscribe("dev/status", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    subscribed(&mut ev).await;

    let url = format!("mqtt://{addr}");
    let sim = tokio::task::spawn_blocking(move || {
        let sim = SimProcess::spawn(&["--broker", &url]);
        let mut port = sim.port();
        port.at(
            "AT+MCONFIG=\"dev1\",root,luat123456,1,0,\"dev/status\",\"offline\"",
            "OK\r\n",
        );
        port.at(
            "AT+MIPSTART=\"lbsmqtt.airm2m.com\",\"1884\"",
            "CONNECT OK\r\n",
        );
        port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n");
        sim
    })
    .await
    .unwrap();
    sim.signal(nix::sys::signal::Signal::SIGKILL);
    let will = next_publish(&mut ev, "dev/status").await;
    assert_eq!(&will.payload[..], b"offline");
    assert_eq!(will.qos, rumqttc::QoS::AtLeastOnce);
    drop(sim);
    broker.shutdown().await;
}

/// Seed 000 section 6.2 with the command-line tools a user would watch it with.
#[test]
fn mosquitto_clients_see_the_plain_flow() {
    let sim = SimProcess::spawn(&[]);
    let mqtt = sim.field("mqtt");
    let (host, port_no) = mqtt.rsplit_once(':').unwrap();
    let mut sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            host,
            "-p",
            port_no,
            "-u",
            "root",
            "-P",
            "luat123456",
            "-t",
            "mqtt/sub",
            "-C",
            "1",
            "-W",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub is installed (apt-get install mosquitto-clients; .ci/run does it)");
    // Its stdout is block-buffered on a pipe: read it on a thread, wait with a deadline.
    let mut sub_out = sub.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = sub_out.read_to_end(&mut all);
        let _ = tx.send(all);
    });
    let mut port = sim.port();
    port.at("AT+MCONFIG=868488076771714,root,luat123456", "OK\r\n");
    port.at(
        "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"",
        "CONNECT OK\r\n",
    );
    port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n");
    port.at("AT+MSUB=\"mqtt/pub\",0", "SUBACK\r\n");
    // mosquitto_sub gives no sign that its subscription is in place, so publish (QoS 0, as in
    // the guide) until it has received one message and exited.
    let deadline = Instant::now() + WAIT;
    let received = loop {
        port.at("AT+MPUB=\"mqtt/sub\",0,0,\"data from 4G module\"", "OK\r\n");
        if let Ok(out) = rx.recv_timeout(Duration::from_millis(300)) {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "mosquitto_sub received nothing in {WAIT:?}"
        );
    };
    assert!(sub.wait().unwrap().success());
    assert_eq!(String::from_utf8_lossy(&received), "data from 4G module\n");

    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            host,
            "-p",
            port_no,
            "-u",
            "root",
            "-P",
            "luat123456",
            "-t",
            "mqtt/pub",
            "-m",
            "data from tcp server",
        ])
        .status()
        .unwrap();
    assert!(status.success());
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
        assert_eq!(
            port.at(
                "AT+MIPSTART=\"AIRTEST.openluat.com\",1883",
                "CONNECT OK\r\n"
            ),
            "\r\nOK\r\n\r\nCONNECT OK\r\n"
        );
        assert_eq!(
            port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n"),
            "\r\nOK\r\n\r\nCONNACK OK\r\n"
        );
    })
    .await
    .unwrap();
    broker.shutdown().await;
}

#[test]
fn bad_arguments_are_explained() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_modem-sim"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
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
    let (host, port_no) = mqtt.rsplit_once(':').unwrap();
    let mut port = sim.raw_port();
    // Powered on before anyone opened the tty: the URCs are the first bytes there.
    assert_eq!(
        port.until("+SIM READY\r\n"),
        "\r\nAT command ready\r\n\r\n+SIM READY\r\n"
    );
    assert_eq!(port.at("AT", "OK\r\n"), "AT\r\r\nOK\r\n", "echo is on");
    assert_eq!(port.at("ATE0", "OK\r\n"), "ATE0\r\r\nOK\r\n");
    assert_eq!(
        port.at("AT+MIPCALL=1", "68\r\n"),
        "\r\nOK\r\n\r\n+MIPCALL: 10.104.48.68\r\n"
    );
    port.at("AT+MQTTUSER=1,\"root\",\"luat123456\"", "OK\r\n");
    assert_eq!(
        port.at(
            "AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",1883,0,60",
            "+MQTTOPEN: 1,1\r\n"
        ),
        "\r\nOK\r\n\r\n+MQTTOPEN: 1,1\r\n"
    );
    port.at("AT+MQTTSUB=1,\"down\",0", "+MQTTSUB: 1,1\r\n");
    let mut sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            host,
            "-p",
            port_no,
            "-u",
            "root",
            "-P",
            "luat123456",
            "-t",
            "up",
            "-C",
            "2",
            "-W",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub is installed (apt-get install mosquitto-clients)");
    let mut sub_out = sub.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = sub_out.read_to_end(&mut all);
        let _ = tx.send(all);
    });
    // mosquitto_sub gives no sign that it has subscribed: publish both forms until it has two
    // messages (QoS 0 as in the guide).
    let deadline = Instant::now() + WAIT;
    let received = loop {
        port.at("AT+MQTTPUB=1,\"up\",0,0,\"123\"", "+MQTTPUB: 1,1\r\n");
        assert_eq!(port.at("AT+MQTTPUB=1,\"up\",0,0,5", ">"), "\r\n>");
        port.send(b"\"1\r\n\"");
        assert_eq!(
            port.until("+MQTTPUB: 1,1\r\n"),
            "\r\nOK\r\n\r\n+MQTTPUB: 1,1\r\n"
        );
        if let Ok(out) = rx.recv_timeout(Duration::from_millis(300)) {
            break out;
        }
        assert!(Instant::now() < deadline, "mosquitto_sub received nothing");
    };
    assert!(sub.wait().unwrap().success());
    let text = String::from_utf8_lossy(&received);
    assert!(
        text == "123\n\"1\r\n\"\n" || text == "\"1\r\n\"\n123\n",
        "{text:?}"
    );
    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            host,
            "-p",
            port_no,
            "-u",
            "root",
            "-P",
            "luat123456",
            "-t",
            "down",
            "-m",
            "from mosquitto_pub",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(port
        .until("mosquitto_pub\r\n")
        .ends_with("\r\n+MQTTMSG: 1, 0, down, from mosquitto_pub\r\n"));
    assert_eq!(
        port.at("AT+MQTTCLOSE=1", "+MQTTCLOSE: 1,1\r\n"),
        "\r\nOK\r\n\r\n+MQTTCLOSE: 1,1\r\n"
    );
    assert_eq!(
        port.at("AT+MIPCALL=0", "+MIPCALL: 0\r\n"),
        "\r\nOK\r\n\r\n+MIPCALL: 0\r\n"
    );
    sim.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(sim.child.wait().unwrap().success());
    let mut banner = String::new();
    sim.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut banner)
        .unwrap();
    assert!(banner.contains("simulated l610 ready"), "{banner}");
}

/// Seed 002 section 3.2: `AT+MQTTWILL` before `AT+MQTTOPEN`; a power cut lets the broker publish
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l610_will_is_published_when_the_process_is_killed() {
    let broker = Broker::start(BrokerConfig::default()).await.unwrap();
    let addr = broker.local_addr();
    let (client, mut ev) = mqtt_client(addr, "watcher");
    client
        .subscribe("test1", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    subscribed(&mut ev).await;
    let url = format!("mqtt://{addr}");
    let sim = tokio::task::spawn_blocking(move || {
        let sim = SimProcess::spawn(&["--dialect", "l610", "--broker", &url]);
        let mut port = sim.port();
        port.at("AT+MIPCALL=1", "+MIPCALL: 10.104.48.68\r\n");
        port.at(
            "AT+MQTTUSER=1,\"root\",\"luat123456\",\"l610-will\"",
            "OK\r\n",
        );
        port.at(
            "AT+MQTTWILL=1,\"test1\",1,0,\"disconnect unexpectedly\"",
            "OK\r\n",
        );
        port.at(
            "AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",1883,0,60",
            "+MQTTOPEN: 1,1\r\n",
        );
        sim
    })
    .await
    .unwrap();
    sim.signal(nix::sys::signal::Signal::SIGKILL);
    let will = next_publish(&mut ev, "test1").await;
    assert_eq!(&will.payload[..], b"disconnect unexpectedly");
    assert_eq!(will.qos, rumqttc::QoS::AtLeastOnce);
    drop(sim);
    broker.shutdown().await;
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
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = sim.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "modem-sim did not exit within {WAIT:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

/// Seed 000 section 6.2 through `--broker` to a separately started Mosquitto with password
/// auth; and a wrong password, which Mosquitto refuses, reads as `CLOSED` (DIVERGENCES A5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_flow_through_broker_flag_to_mosquitto() {
    let mosquitto = Mosquitto::start();
    let addr = mosquitto.addr;
    let (client, mut ev) = mqtt_client(addr, "tool");
    client
        .subscribe("mqtt/sub", rumqttc::QoS::AtMostOnce)
        .await
        .unwrap();
    subscribed(&mut ev).await;
    let url = format!("mqtt://{addr}");
    let (sim, mut port) = tokio::task::spawn_blocking(move || {
        let sim = SimProcess::spawn(&["--broker", &url]);
        let mut port = sim.port();
        port.at("ATE0", "OK\r\n");
        port.at("AT+MCONFIG=868488076771714,root,wrong", "OK\r\n");
        port.at(
            "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"",
            "CONNECT OK\r\n",
        );
        assert_eq!(
            port.at("AT+MCONNECT=1,60", "CLOSED\r\n"),
            "\r\nOK\r\n\r\nCLOSED\r\n"
        );
        assert_eq!(
            port.at("AT+MQTTSTATU", "OK\r\n"),
            "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"
        );
        port.at("AT+MIPCLOSE", "\r\n");
        port.at("AT+MCONFIG=868488076771714,root,luat123456", "OK\r\n");
        port.at(
            "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"",
            "CONNECT OK\r\n",
        );
        port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n");
        port.at("AT+MSUB=\"mqtt/pub\",0", "SUBACK\r\n");
        port.at("AT+MPUB=\"mqtt/sub\",0,0,\"data from 4G module\"", "OK\r\n");
        (sim, port)
    })
    .await
    .unwrap();
    let got = next_publish(&mut ev, "mqtt/sub").await;
    assert_eq!(&got.payload[..], b"data from 4G module");
    client
        .publish(
            "mqtt/pub",
            rumqttc::QoS::AtMostOnce,
            false,
            "data from tcp server",
        )
        .await
        .unwrap();
    // The client's event loop must keep running for the publish to leave.
    let poller = tokio::spawn(async move { while ev.poll().await.is_ok() {} });
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
mod malformed;

/// The malformed-input table through the real binary, the PTY and the embedded broker.
#[test]
fn malformed_input_table_through_the_pty() {
    let cases = malformed::malformed_cases(include_str!("../../fixtures/malformed/air780e.tsv"));
    let sim = SimProcess::spawn(&[]);
    let mut port = sim.port();
    port.at("ATE0", "OK\r\n");
    let mut connected = false;
    for case in cases {
        if case.connected != connected {
            if case.connected {
                port.at("AT+MCONFIG=dev,root,luat123456", "OK\r\n");
                port.at("AT+MIPSTART=\"h\",1883", "CONNECT OK\r\n");
                port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n");
            } else {
                port.at("AT+MIPCLOSE", "OK\r\n");
            }
            connected = case.connected;
        }
        port.send(&case.input);
        let expected = String::from_utf8_lossy(&case.expected).into_owned();
        assert_eq!(port.until(&expected), expected, "{}", case.why);
        assert_eq!(
            port.at("AT", "OK\r\n"),
            "\r\nOK\r\n",
            "AT after: {}",
            case.why
        );
        // Settings some rows change go back to the defaults.
        port.at("AT+CMEE=1", "OK\r\n");
        port.at("AT+MQTTMODE=0", "OK\r\n");
        port.at("AT+CIPSHUT", "SHUT OK\r\n");
    }
}

/// The L610's malformed-input table through the real binary, the PTY and the embedded broker.
/// Rows run in file order: idle, then with the data call up, then with client 1 open.
#[test]
fn l610_malformed_input_table_through_the_pty() {
    let cases = malformed::malformed_cases(include_str!("../../fixtures/malformed/l610.tsv"));
    let sim = SimProcess::spawn(&["--dialect", "l610"]);
    let mut port = sim.port();
    // The boot URCs wait in the PTY buffer; the first OK is past them.
    port.at("ATE0", "OK\r\n");
    let order = ["idle", "called", "connected"];
    let mut state = 0;
    for case in cases {
        let want = order
            .iter()
            .position(|s| *s == case.state)
            .unwrap_or_else(|| panic!("unknown state {}", case.state));
        assert!(want >= state, "the table goes idle, called, connected");
        while state < want {
            state += 1;
            if order[state] == "called" {
                port.at("AT+MIPCALL=1", "OK\r\n");
                port.until("\r\n+MIPCALL: ");
                port.until("\r\n");
            } else {
                port.at("AT+MQTTUSER=1,\"root\",\"luat123456\"", "OK\r\n");
                port.at("AT+MQTTOPEN=1,\"h\",1883,0,60", "+MQTTOPEN: 1,1\r\n");
            }
        }
        port.send(&case.input);
        let expected = String::from_utf8_lossy(&case.expected).into_owned();
        assert_eq!(port.until(&expected), expected, "{}", case.why);
        assert_eq!(
            port.at("AT", "OK\r\n"),
            "\r\nOK\r\n",
            "AT after: {}",
            case.why
        );
        // Rows that number their errors go back to the L610's default.
        port.at("AT+CMEE=0", "OK\r\n");
    }
}

const NO_LOSS: usize = 10_000;

/// 10,000 QoS 1 messages up through `AT+MPUB` arrive at a subscriber exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_qos1_up_exactly_once_in_order() {
    let broker = Broker::start(BrokerConfig::default()).await.unwrap();
    let addr = broker.local_addr();
    let (client, mut ev) = mqtt_client(addr, "collector");
    client
        .subscribe("noloss/up", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    subscribed(&mut ev).await;
    let collector = tokio::spawn(async move {
        let mut got = Vec::with_capacity(NO_LOSS);
        while got.len() < NO_LOSS {
            let p = next_publish(&mut ev, "noloss/up").await;
            got.push(String::from_utf8_lossy(&p.payload).into_owned());
        }
        got
    });
    let url = format!("mqtt://{addr}");
    let sim = tokio::task::spawn_blocking(move || {
        let sim = SimProcess::spawn(&["--broker", &url]);
        let mut port = sim.port();
        port.at("ATE0", "OK\r\n");
        port.at("AT+MCONFIG=up,root,luat123456", "OK\r\n");
        port.at("AT+MIPSTART=\"h\",1883", "CONNECT OK\r\n");
        port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n");
        for i in 0..NO_LOSS {
            // One QoS 1 publish in flight at a time, as on the module.
            let answer = port.at(&format!("AT+MPUB=\"noloss/up\",1,0,\"{i}\""), "PUBACK\r\n");
            assert_eq!(answer, "\r\nOK\r\n\r\nPUBACK\r\n", "message {i}");
        }
        sim
    })
    .await
    .unwrap();
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
    let url = format!("mqtt://{addr}");
    let (sim, mut port) = tokio::task::spawn_blocking(move || {
        let sim = SimProcess::spawn(&["--broker", &url]);
        let mut port = sim.port();
        port.at("ATE0", "OK\r\n");
        port.at("AT+MCONFIG=down,root,luat123456", "OK\r\n");
        port.at("AT+MIPSTART=\"h\",1883", "CONNECT OK\r\n");
        port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n");
        port.at("AT+MSUB=\"noloss/down\",1", "SUBACK\r\n");
        (sim, port)
    })
    .await
    .unwrap();
    let (client, mut ev) = mqtt_client(addr, "source");
    let poller = tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let publisher = tokio::spawn(async move {
        for i in 0..NO_LOSS {
            client
                .publish(
                    "noloss/down",
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    i.to_string(),
                )
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
    let sim = SimProcess::spawn(&[]);
    let mut port = sim.port();
    port.at("ATE0", "OK\r\n");
    let before = sim.rss_kib();
    let mut rng = rand::rngs::StdRng::seed_from_u64(10);
    let mut writer = port.file.try_clone().unwrap();
    let w = std::thread::spawn(move || {
        let mut chunk = vec![0u8; 64 * 1024];
        for _ in 0..160 {
            rng.fill(&mut chunk[..]);
            writer.write_all(&chunk).unwrap();
        }
    });
    // Drain the answers while the garbage goes in.
    let mut buf = vec![0u8; 1 << 16];
    while !w.is_finished() {
        let mut fds = [nix::poll::PollFd::new(
            port.file.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u8)).unwrap() > 0 {
            let _ = (&port.file).read(&mut buf).unwrap();
        }
    }
    w.join().unwrap();
    port.at("\rAT+CGSN", "868488076771714\r\n\r\nOK\r\n");
    let grown = sim.rss_kib().saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "RSS grew by {grown} KiB under 10 MiB of garbage"
    );
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
    for name in ["ca.crt", "client.crt", "client.key"] {
        let bytes = std::fs::read(certs.join(name)).unwrap();
        port.at(&format!("AT+FSCREATE=\"{name}\""), "OK\r\n");
        port.at(
            &format!("AT+FSWRITE=\"{name}\",0,{},15", bytes.len()),
            "\r\n>",
        );
        port.send(&bytes);
        port.until("OK\r\n");
    }
    port.at("AT+SSLCFG=\"cacert\",88,\"ca.crt\"", "OK\r\n");
    port.at("AT+SSLCFG=\"clientcert\",88,\"client.crt\"", "OK\r\n");
    port.at("AT+SSLCFG=\"clientkey\",88,\"client.key\"", "OK\r\n");
    port.at("AT+SSLCFG=\"seclevel\",88,2", "OK\r\n");
    port.at("AT+MCONFIG=868488076771714,root,luat123456", "OK\r\n");
    port.at(
        "AT+SSLMIPSTART=\"lbsmqtt.airm2m.com\",8883",
        "CONNECT OK\r\n",
    );
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
    let status = Command::new(env!("CARGO_BIN_EXE_modem-sim"))
        .args(["certs", "--out"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    for host in [
        "localhost",
        "airtest.openluat.com",
        "lbsmqtt.airm2m.com",
        "g510.mqtt.iot.bj.baidubce.com",
    ] {
        let out = Command::new("openssl")
            .args([
                "verify",
                "-purpose",
                "sslserver",
                "-verify_hostname",
                host,
                "-CAfile",
            ])
            .arg(dir.path().join("ca.crt"))
            .arg(dir.path().join("server.crt"))
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let out = Command::new("openssl")
        .args(["verify", "-purpose", "sslclient", "-CAfile"])
        .arg(dir.path().join("ca.crt"))
        .arg(dir.path().join("client.crt"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new("openssl")
        .args(["verify", "-verify_hostname", "example.com", "-CAfile"])
        .arg(dir.path().join("ca.crt"))
        .arg(dir.path().join("server.crt"))
        .output()
        .unwrap();
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
    let sim = tokio::task::spawn_blocking(move || {
        SimProcess::spawn(&[
            "--count",
            "5",
            "--link",
            &link_arg,
            "--imei",
            "860000000000100",
        ])
    })
    .await
    .unwrap();
    let ttys: Vec<String> = sim.ready["ttys"]
        .as_array()
        .expect("ttys in the ready file")
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
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
    let addr: std::net::SocketAddr = sim.field("mqtt").parse().unwrap();
    let (client, mut ev) = mqtt_client(addr, "fleet-watch");
    client
        .subscribe("fleet/#", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    subscribed(&mut ev).await;
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
            port.at(&format!("AT+MCONFIG=fleet-{i},root,luat123456"), "OK\r\n");
            port.at("AT+MIPSTART=\"lbsmqtt.airm2m.com\",1883", "CONNECT OK\r\n");
            port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n");
        }
        // Only once all five sessions are up: each still owns its session.
        for (i, port) in ports.iter_mut().enumerate() {
            let answer = port.at(
                &format!("AT+MPUB=\"fleet/{i}\",1,0,\"from {i}\""),
                "PUBACK\r\n",
            );
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
    sim.signal(nix::sys::signal::Signal::SIGTERM);
    let status = tokio::task::spawn_blocking(move || sim.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
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
    assert_eq!(
        port.at("ATI", "OK\r\n"),
        "\r\nAirM2M_780EP_V1007_LTE_AT\r\n\r\nOK\r\n"
    );
    assert_eq!(
        port.at("AT+ICCID", "OK\r\n"),
        "\r\n+ICCID: 898604981022C0254186\r\n\r\nOK\r\n"
    );
    assert_eq!(
        port.at("AT+CIMI", "OK\r\n"),
        "\r\n460081899904186\r\n\r\nOK\r\n"
    );
    let clk = port.at("AT+CCLK?", "OK\r\n");
    assert!(clk.starts_with("\r\n+CCLK: \"24/08/27,06:3"), "{clk:?}");
    assert_eq!(
        port.at("AT+CSQ", "OK\r\n"),
        "\r\n+CSQ: 29,0\r\n\r\nOK\r\n",
        "the 780EP's <ber>"
    );
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
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_modem-sim"))
            .args(args)
            .output()
            .unwrap();
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
    sim.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(sim.child.wait().unwrap().success());
    let mut banner = String::new();
    sim.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut banner)
        .unwrap();
    assert!(banner.contains("timing: realistic delays"), "{banner}");
    assert!(banner.contains("seed 3 (--seed 3 repeats them"), "{banner}");
}

/// The test helpers run `--timing fast`; its banner says so, and a bad profile is refused
/// with the reason and exit 2.
#[test]
fn timing_fast_banner_and_bad_profiles_are_explained() {
    let mut sim = SimProcess::spawn(&[]);
    sim.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(sim.child.wait().unwrap().success());
    let mut banner = String::new();
    sim.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut banner)
        .unwrap();
    assert!(
        banner.contains("timing: fast (answers as soon as the network does"),
        "{banner}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("slow.toml");
    std::fs::write(
        &bad,
        "name = \"slow\"\n[delays.conack]\nmedian_ms = 5\nsource = \"x\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_modem-sim"))
        .arg("--timing")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("slow.toml") && err.contains("conack"), "{err}");
}
