//! The UART over TCP (`--serial`): pyserial's `socket://` and `rfc2217://` URLs, socat in the
//! role of QEMU's `-serial tcp::PORT,server`, and a host that goes away and comes back.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use modem_sim::sim::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{
    exit_within_wait, free_port, lines_of, python, wait_for_path, Port, SimProcess, WAIT,
};

const HOST_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/pyserial_host.py"
);

/// A simulator in this process with its UART served at `url`.
async fn serving(url: &str) -> Simulator {
    Simulator::start(SimConfig {
        serial: url.parse().unwrap(),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// `python3 pyserial_host.py URL MODE`, its stdout read line by line.
struct PyHost {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl PyHost {
    fn spawn(url: &str, mode: &str) -> PyHost {
        let mut child = Command::new(python())
            .args([HOST_SCRIPT, url, mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (apt-get install python3-serial; .ci/run does it)");
        let lines = lines_of(child.stdout.take().unwrap());
        PyHost { child, lines }
    }

    fn expect(&mut self, line: &str) {
        match self.lines.recv_timeout(WAIT) {
            Ok(l) if l == line => {}
            got => {
                let status = self.child.try_wait();
                panic!("expected {line:?} from the pyserial host, got {got:?} (exit {status:?})")
            }
        }
    }

    fn finish(mut self) {
        drop(self.child.stdin.take());
        let status = exit_within_wait(&mut self.child, "the pyserial host");
        assert!(status.success(), "the pyserial host failed: {status}");
    }
}

impl Drop for PyHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An MQTT client on the simulator's embedded broker that receives what the module publishes
/// on `mqtt/sub`.
fn server_client(mqtt: &str) -> (rumqttc::Client, rumqttc::Connection) {
    let (host, port) = mqtt.rsplit_once(':').unwrap();
    let mut opts = rumqttc::MqttOptions::new("server", host, port.parse().unwrap());
    opts.set_credentials("root", "luat123456");
    let (client, mut conn) = rumqttc::Client::new(opts, 10);
    client
        .subscribe("mqtt/sub", rumqttc::QoS::AtMostOnce)
        .unwrap();
    for ev in conn.iter() {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) = ev {
            break;
        }
        ev.expect("the server client connects");
    }
    (client, conn)
}

/// The next PUBLISH the client receives: (topic, payload).
fn next_publish(conn: &mut rumqttc::Connection) -> (String, Vec<u8>) {
    loop {
        match conn.recv_timeout(WAIT).expect("a PUBLISH in time") {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                return (p.topic, p.payload.to_vec())
            }
            Ok(_) => {}
            Err(e) => panic!("MQTT client: {e}"),
        }
    }
}

/// Seed 000 section 6.2 by a pyserial host on `url`, the broker side checked byte for byte.
fn seed_000_flow_over(sim: &SimProcess, url: &str) {
    let (client, mut conn) = server_client(&sim.field("mqtt"));
    let mut host = PyHost::spawn(url, "flow");
    host.expect("SUBSCRIBED");
    assert_eq!(
        next_publish(&mut conn),
        ("mqtt/sub".to_string(), b"data from 4G module".to_vec())
    );
    let (topic, qos) = ("mqtt/pub", rumqttc::QoS::AtMostOnce);
    client
        .publish(topic, qos, false, "data from tcp server")
        .unwrap();
    std::thread::spawn(move || for _ in conn.iter() {});
    host.expect("RECEIVED");
    host.finish();
}

#[test]
fn pyserial_socket_url_runs_the_seed_000_flow_on_tcp_listen() {
    let sim = SimProcess::spawn(&["--serial", "tcp-listen://127.0.0.1:0"]);
    let serial = sim.field("serial");
    let at = serial
        .strip_prefix("tcp-listen://127.0.0.1:")
        .unwrap_or_else(|| panic!("ready file serial: {serial:?}"));
    assert_ne!(at, "0", "the ready file names the port really bound");
    assert_eq!(sim.field("tty"), "", "no PTY with --serial tcp-listen");
    assert_eq!(sim.ready["serials"][0].as_str(), Some(serial.as_str()));
    seed_000_flow_over(&sim, &serial.replace("tcp-listen://", "socket://"));
}

#[test]
fn pyserial_rfc2217_url_runs_the_seed_000_flow_on_rfc2217() {
    let sim = SimProcess::spawn(&["--serial", "rfc2217://127.0.0.1:0"]);
    let serial = sim.field("serial");
    assert!(serial.starts_with("rfc2217://127.0.0.1:"), "{serial:?}");
    seed_000_flow_over(&sim, &serial);
}

/// The line settings a pyserial host sets over RFC 2217 are the module's UART's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pyserial_baud_change_over_rfc2217_is_the_modules_line() {
    let sim = serving("rfc2217://127.0.0.1:0").await;
    let before = sim.line();
    assert_eq!(
        (before.baud, before.data_bits, before.dtr, before.connected),
        (None, 8, false, false)
    );
    let url = sim.serial().to_string();
    let mut host = tokio::task::spawn_blocking(move || {
        let mut host = PyHost::spawn(&url, "baud");
        host.expect("SET");
        host
    })
    .await
    .unwrap();
    let line = sim.line();
    assert_eq!(line.baud, Some(9600), "{line:?}");
    assert_eq!((line.data_bits, line.parity), (7, 3), "{line:?}");
    assert!(line.dtr && !line.rts && line.connected, "{line:?}");
    drop(host.child.stdin.take());
    tokio::task::spawn_blocking(move || host.finish())
        .await
        .unwrap();
    sim.shutdown().await;
}

/// socat plays QEMU's `-serial tcp::PORT,server`: it listens, and its other side is a PTY, the
/// emulated firmware's UART. The simulator is started first and dials until socat is up.
#[test]
fn socat_as_a_qemu_server_serial_works_with_tcp_connect() {
    // Bound, read, released: socat binds it next.
    let port = free_port();
    let sim = SimProcess::spawn(&["--serial", &format!("tcp-connect://127.0.0.1:{port}")]);
    assert_eq!(
        sim.field("serial"),
        format!("tcp-connect://127.0.0.1:{port}")
    );
    let guest = sim.dir.path().join("guest-uart");
    let mut socat = Command::new("socat")
        .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"))
        .arg(format!("PTY,link={},raw,echo=0", guest.display()))
        .stderr(Stdio::null())
        .spawn()
        .expect("socat runs (apt-get install socat; .ci/run does it)");
    wait_for_path(&guest, "socat made no PTY");
    let mut fw = Port::open(Path::new(&guest));
    // The simulator may not have connected yet: what the firmware writes waits in socat.
    fw.ok("AT");
    fw.ok("AT+MCONFIG=868488076771714,root,luat123456");
    let start = "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"";
    fw.line(start, "\r\n", "CONNECT OK\r\n");
    fw.line("AT+MCONNECT=1,60", "\r\n", "CONNACK OK\r\n");
    let _ = socat.kill();
    let _ = socat.wait();
    drop(sim);
    let _ = std::io::stdout().flush();
}

/// Reads from `host` until `needle` has appeared; returns everything read.
async fn read_until(host: &mut tokio::net::TcpStream, needle: &str) -> String {
    let mut seen = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let n = host.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "the UART closed; saw {:?}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
    };
    let done = tokio::time::timeout(WAIT, read).await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(done.is_ok(), "no {needle:?} in {text:?}");
    text
}

async fn at(host: &mut tokio::net::TcpStream, cmd: &str, until: &str) -> String {
    host.write_all(format!("{cmd}\r\n").as_bytes())
        .await
        .unwrap();
    read_until(host, until).await
}

/// Waits (polling, up to `WAIT`) until `done` holds; fails naming `what`.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "not so within {WAIT:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A host that disconnects mid-session and reconnects finds the module still in its MQTT
/// session (it did not reboot), and the URC that came while it was away is gone, counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_reconnects_finds_the_session_and_not_the_urcs_sent_while_away() {
    let sim = serving("tcp-listen://127.0.0.1:0").await;
    let url = sim.serial().to_string();
    let addr = url.trim_start_matches("tcp-listen://").to_string();
    let mut host = tokio::net::TcpStream::connect(&addr).await.unwrap();
    for (cmd, until) in [
        ("AT+MCONFIG=868488076771714,root,luat123456", "OK\r\n"),
        (
            "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"",
            "CONNECT OK\r\n",
        ),
        ("AT+MCONNECT=1,60", "CONNACK OK\r\n"),
        ("AT+MSUB=\"mqtt/pub\",0", "SUBACK\r\n"),
    ] {
        at(&mut host, cmd, until).await;
    }
    drop(host);
    eventually("the disconnect was seen", || !sim.line().connected).await;
    let lost_before = sim.line().lost;
    // Published while the host is away: the module prints +MSUB to nobody.
    let mqtt = sim.mqtt_addr().unwrap().to_string();
    tokio::task::spawn_blocking(move || {
        let (client, mut conn) = server_client(&mqtt);
        client
            .publish("mqtt/pub", rumqttc::QoS::AtMostOnce, false, "while away")
            .unwrap();
        // Until the PUBLISH is out (its own subscription may echo nothing else).
        for ev in conn.iter() {
            if let Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(_))) = ev {
                break;
            }
        }
        let _ = client.disconnect();
        for ev in conn.iter().take(10) {
            if matches!(
                ev,
                Err(_) | Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Disconnect))
            ) {
                break;
            }
        }
    })
    .await
    .unwrap();
    let tap = sim.uart_tap();
    eventually("the module printed the URC", || {
        let away = |bytes: &[u8]| String::from_utf8_lossy(bytes).contains("while away");
        tap.snapshot()
            .iter()
            .any(|r| !r.from_host && away(&r.bytes))
    })
    .await;
    eventually("the URC was counted as lost", || {
        sim.line().lost > lost_before
    })
    .await;
    let mut host = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let out = at(&mut host, "AT+MQTTSTATU", "OK\r\n").await;
    assert!(out.contains("+MQTTSTATU :1\r\n"), "{out:?}");
    assert!(!out.contains("while away"), "{out:?}");
    // And the session still carries messages both ways.
    at(&mut host, "AT+MPUB=\"mqtt/sub\",0,0,\"back\"", "OK\r\n").await;
    sim.shutdown().await;
}
