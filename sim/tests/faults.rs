//! Fault injection end to end: the real binary on a real PTY, faults sent with the real
//! `modem-sim inject` CLI over the control socket, and the broker watched by a real client.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{inject, Mosquitto, Port, SimProcess, WAIT};

impl Port {
    /// Sends a command line and returns everything up to and including its final result
    /// (`OK`, `ERROR`, `+CME ERROR: n`), so the answer can be compared whole.
    fn at(&mut self, cmd: &str) -> String {
        self.send(format!("{cmd}\r").as_bytes());
        let deadline = Instant::now() + WAIT;
        loop {
            let seen = &self.seen;
            let find = |from: usize, needle: &[u8]| {
                let at = process::find(seen.get(from..)?, needle)?;
                Some(from + at)
            };
            let end = [&b"\r\nOK\r\n"[..], b"\r\nERROR\r\n"]
                .iter()
                .filter_map(|f| find(0, f).map(|p| p + f.len()))
                .chain(find(0, b"+CME ERROR: ").and_then(|p| find(p, b"\r\n").map(|e| e + 2)))
                .min();
            if let Some(end) = end {
                let answer: Vec<u8> = self.seen.drain(..end).collect();
                return String::from_utf8_lossy(&answer).into_owned();
            }
            self.fill(deadline, &format!("a final result for {cmd}"));
        }
    }

    /// `cmd` answered `OK`, whatever came before it.
    fn at_ok(&mut self, cmd: &str) {
        let answer = self.at(cmd);
        assert!(answer.ends_with("OK\r\n"), "{cmd}: {answer:?}");
    }

    /// `AT+MIPSTART` to seed 001's broker, read up to `until`; returns what was read.
    fn mipstart(&mut self, until: &str) -> String {
        self.send(b"AT+MIPSTART=\"lbsmqtt.airm2m.com\",\"1884\"\r");
        self.until(until)
    }

    /// Seed 001's connect sequence (`MCONFIG`, `MIPSTART`, `MCONNECT`) up to `CONNACK OK`.
    fn connect(&mut self, client_id: &str) {
        let cfg =
            format!("AT+MCONFIG=\"{client_id}\",root,luat123456,0,0,\"will/{client_id}\",\"gone\"");
        assert!(self.at(&cfg).ends_with("\r\nOK\r\n"));
        self.mipstart("CONNECT OK\r\n");
        self.send(b"AT+MCONNECT=1,60\r");
        self.until("CONNACK OK\r\n");
    }

    /// `AT+MQTTSTATU` reads 0 and `AT+MIPCLOSE` answers `mipclose` (`767`, or `OK` after a
    /// PDN loss): the session is gone; then the connect sequence works again as `id`.
    fn session_gone_then_back(&mut self, mipclose: &str, id: &str) {
        assert!(self.at("AT+MQTTSTATU").contains("+MQTTSTATU :0"));
        let answer = self.at("AT+MIPCLOSE");
        assert!(answer.ends_with(mipclose), "{answer:?}");
        self.connect(id);
    }
}

/// A simulator with a control socket, a watcher on its broker, and its modem connected as `id`.
fn connected(id: &str) -> (SimProcess, Watcher, Port) {
    let sim = SimProcess::with_control(&[]);
    let watcher = Watcher::start(sim.mqtt());
    let mut port = sim.port();
    port.connect(id);
    (sim, watcher, port)
}

/// A watcher on the broker: every message on `will/#` and `t/#`.
struct Watcher {
    rx: std::sync::mpsc::Receiver<(String, Vec<u8>)>,
    _thread: std::thread::JoinHandle<()>,
}

impl Watcher {
    fn start(addr: std::net::SocketAddr) -> Watcher {
        let (tx, rx) = std::sync::mpsc::channel();
        let (subscribed_tx, subscribed_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut opts = rumqttc::MqttOptions::new("watcher", addr.ip().to_string(), addr.port());
            opts.set_credentials("root", "luat123456");
            let (client, mut conn) = rumqttc::Client::new(opts, 100);
            client
                .subscribe("will/#", rumqttc::QoS::AtLeastOnce)
                .unwrap();
            client.subscribe("t/#", rumqttc::QoS::AtLeastOnce).unwrap();
            for ev in conn.iter() {
                match ev {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        let _ = subscribed_tx.send(());
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        for _ in 0..2 {
            subscribed_rx.recv_timeout(WAIT).expect("watcher SUBACK");
        }
        Watcher {
            rx,
            _thread: thread,
        }
    }

    fn next(&self, topic: &str) -> Vec<u8> {
        self.next_after(topic).0
    }

    /// The next payload on `topic`, and the topics of the messages before it.
    fn next_after(&self, topic: &str) -> (Vec<u8>, Vec<String>) {
        let deadline = Instant::now() + WAIT;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (t, p) = self
                .rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("nothing on {topic} within {WAIT:?}"));
            if t == topic {
                return (p, before);
            }
            before.push(t);
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn control_socket_is_0600_and_named_in_the_ready_file() {
    let sim = SimProcess::with_control(&[]);
    let ctl = sim.control();
    assert!(ctl.ends_with("ctl.sock"), "{ctl:?}");
    assert_eq!(mode(&ctl), 0o600);

    // Without --control: a private directory (0700) holds a 0600 socket.
    let sim = SimProcess::spawn(&[]);
    let ctl = sim.control();
    assert!(
        !ctl.as_os_str().is_empty(),
        "the ready file names no control socket"
    );
    assert_eq!(mode(&ctl), 0o600);
    assert_eq!(mode(ctl.parent().unwrap()), 0o700);
    sim.fault(&["signal", "3"]);
    let mut port = sim.port();
    assert_eq!(port.at("AT+CSQ"), "AT+CSQ\r\r\n+CSQ: 3,0\r\n\r\nOK\r\n");
}

#[test]
fn unknown_faults_and_bad_arguments_are_refused_with_the_list() {
    let sim = SimProcess::with_control(&[]);
    for (words, why) in [
        (&["melt"][..], "unknown fault `melt`"),
        (&["signal", "40"][..], "RSSI is 0 to 31"),
        (&["pdn-deact", "soon"][..], "not a number of seconds"),
        (&["closed", "twice"][..], "takes no argument"),
    ] {
        let out = sim.inject(words);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{words:?}: {err}");
        assert!(err.contains(why), "{words:?}: {err}");
        for fault in [
            "closed",
            "reset",
            "pdn-deact",
            "deregister",
            "sim-removed",
            "kick-idle",
        ] {
            assert!(
                err.contains(fault),
                "{words:?}: the list lacks {fault}: {err}"
            );
        }
    }
    // The server refuses a bad request too (a client other than our CLI).
    let mut s = std::os::unix::net::UnixStream::connect(sim.control()).unwrap();
    s.write_all(b"melt\n").unwrap();
    let mut reply = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&s), &mut reply).unwrap();
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["ok"], false);
    assert!(reply["error"].as_str().unwrap().contains("pdn-deact"));
    // No simulator at the path: a failure, not a hang.
    let out = inject(&sim.dir.path().join("nothing.sock"), &["closed"]);
    assert_eq!(out.status.code(), Some(1));
}

/// Seed 001 "连接被动断开" through `inject closed`: `CLOSED`, `MQTTSTATU` 0, then `MIPCLOSE`
/// and `MCONNECT` answer 767, and the guide's recovery sequence works. The broker sees the link
/// end without DISCONNECT, so it publishes the will.
#[test]
fn closed_then_767_then_the_documented_recovery() {
    let (sim, watcher, mut port) = connected("dev1");
    // MCONNECT while connected (notes section 3).
    let again = port.at("AT+MCONNECT=1,60");
    assert_eq!(again, "AT+MCONNECT=1,60\r\r\n+CME ERROR: 767\r\n");
    sim.fault(&["closed"]);
    port.until("\r\nCLOSED\r\n");
    assert_eq!(watcher.next("will/dev1"), b"gone");
    let statu = port.at("AT+MQTTSTATU");
    assert_eq!(statu, "AT+MQTTSTATU\r\r\n+MQTTSTATU :0\r\n\r\nOK\r\n");
    let mconnect = port.at("AT+MCONNECT=0,300");
    assert_eq!(mconnect, "AT+MCONNECT=0,300\r\r\n+CME ERROR: 767\r\n");
    let mipclose = port.at("AT+MIPCLOSE");
    assert_eq!(mipclose, "AT+MIPCLOSE\r\r\n+CME ERROR: 767\r\n");
    port.connect("dev1");
    port.at_ok("AT+MPUB=\"t/up\",1,0,\"back\"");
    port.until("PUBACK\r\n");
    assert_eq!(watcher.next("t/up"), b"back");
}

/// `closed` between `CONNECT OK` and `MCONNECT` (seed 003's situation): `CLOSED`, then
/// `AT+MCONNECT=0,300` gives 767, then recovery works.
#[test]
fn closed_before_mconnect_gives_767_then_recovery() {
    let (sim, mut port) = SimProcess::controlled(&[]);
    port.at_ok("AT+MCONFIG=\"dev2\",root,luat123456");
    port.mipstart("CONNECT OK\r\n");
    sim.fault(&["closed"]);
    port.until("\r\nCLOSED\r\n");
    let mconnect = port.at("AT+MCONNECT=0,300");
    assert_eq!(mconnect, "AT+MCONNECT=0,300\r\r\n+CME ERROR: 767\r\n");
    assert!(port.at("AT+MIPCLOSE").contains("767"));
    port.connect("dev2");
}

/// `reset`: the same consequences on the UART; the broker sees the link die (will published).
#[test]
fn reset_shows_closed_and_the_broker_publishes_the_will() {
    let (sim, watcher, mut port) = connected("dev3");
    sim.fault(&["reset"]);
    port.until("\r\nCLOSED\r\n");
    assert_eq!(watcher.next("will/dev3"), b"gone");
    port.session_gone_then_back("+CME ERROR: 767\r\n", "dev3");
}

/// Seed 001 "PDP被动去激活": `+CGEV: NW PDN DEACT 1`, `MQTTSTATU` 0, `MIPCLOSE` `OK`, then
/// reconnecting and publishing work. With a delay, `MIPSTART` fails until the context is back.
#[test]
fn pdn_deact_then_mipclose_ok_then_publish_again() {
    let (sim, watcher, mut port) = connected("dev4");
    sim.fault(&["pdn-deact"]);
    port.until("\r\n+CGEV: NW PDN DEACT 1\r\n");
    port.session_gone_then_back("AT+MIPCLOSE\r\r\nOK\r\n", "dev4");
    port.at_ok("AT+MPUB=\"t/pdn\",0,0,\"again\"");
    assert_eq!(watcher.next("t/pdn"), b"again");

    // The context stays away for an hour: connects fail meanwhile.
    sim.fault(&["pdn-deact", "3600"]);
    port.until("\r\n+CGEV: NW PDN DEACT 1\r\n");
    port.mipstart("\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n\r\nCONNECT FAIL\r\n");
}

/// Registration lost and regained with the URCs on; the SIM pulled and put back.
#[test]
fn deregister_register_and_the_sim() {
    let (sim, mut port) = SimProcess::controlled(&[]);
    for urcs_on in ["AT+CGREG=1", "AT+CEREG=1"] {
        port.at_ok(urcs_on);
    }
    port.connect("dev5");
    sim.fault(&["deregister"]);
    port.until("\r\n+CGREG: 0\r\n\r\n+CEREG: 0\r\n\r\n+CGEV: NW PDN DEACT 1\r\n");
    assert!(port.at("AT+CGATT?").contains("+CGATT: 0\r\n"));
    assert!(port.at("AT+CGREG?").contains("+CGREG: 1,0\r\n"));
    assert!(port.at("AT+MQTTSTATU").contains("+MQTTSTATU :0"));
    port.at_ok("AT+MIPCLOSE");
    port.mipstart("\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n\r\nCONNECT FAIL\r\n");
    sim.fault(&["register"]);
    port.until("\r\n+CGREG: 1\r\n\r\n+CEREG: 1\r\n");
    assert!(port.at("AT+CGATT?").contains("+CGATT: 1\r\n"));
    port.connect("dev5");

    // The SIM guide's URCs (luatos-doc-pool public/20240906_any_sim.md), with the registration
    // URCs the host asked for.
    sim.fault(&["sim-removed"]);
    port.until(
        "\r\n^MODE: 0,0\r\n\r\n+NO Service\r\n\r\n+CGEV: NW PDN DEACT 1\r\n\r\n+CGEV: ME DETACH\r\n\r\n+CPIN: SIM REMOVED 0\r\n\r\n+CGREG: 0\r\n\r\n+CEREG: 0\r\n",
    );
    assert!(port.at("AT+CPIN?").ends_with("+CME ERROR: 10\r\n"));
    // Registration cannot come back without a SIM.
    sim.fault(&["register"]);
    assert!(port.at("AT+CGATT?").contains("+CGATT: 0\r\n"));
    sim.fault(&["sim-inserted"]);
    port.until(
        "\r\n^MODE: 17,17\r\n\r\n+E_UTRAN Service\r\n\r\n+CGEV: ME PDN ACT 1,0\r\n\r\n+NITZ: ",
    );
    port.until("\r\n\r\n+CPIN: READY 0\r\n\r\n+CGREG: 1\r\n\r\n+CEREG: 1\r\n");
    assert!(port.at("AT+CPIN?").contains("+CPIN: READY"));
    port.connect("dev5");
}

/// The modem's idle link (`AT+MCONFIG` as `id`, `AT+MIPSTART`, no `AT+MCONNECT`) is closed by
/// an idle kick: `CLOSED`, then `AT+MCONNECT` gets 767.
fn kicked_while_idle(port: &mut Port, id: &str) {
    port.at_ok(&format!("AT+MCONFIG=\"{id}\",root,luat123456"));
    port.mipstart("CONNECT OK\r\n");
    port.until("\r\nCLOSED\r\n");
    let answer = port.at("AT+MCONNECT=1,60");
    assert!(answer.ends_with("+CME ERROR: 767\r\n"), "{id}: {answer:?}");
}

/// Seed 003: the server closes links that send no CONNECT in time: `CLOSED`, then
/// `MCONNECT` gets 767.
#[test]
fn kick_idle_closes_a_link_without_connect() {
    let (sim, mut port) = SimProcess::controlled(&[]);
    sim.fault(&["kick-idle", "0.5"]);
    kicked_while_idle(&mut port, "dev6");
    sim.fault(&["kick-idle", "off"]);
    assert!(port.at("AT+MIPCLOSE").contains("767"));
    port.connect("dev6");
}

/// `--count 3`: modems 1 and 2 share modem 0's broker by handle, so `kick-idle` injected over
/// modem 2's control socket reaches the broker every modem uses (before #14 it was refused:
/// "needs the embedded broker"): modems 2 and 1 both see their idle link closed and 767, and
/// `kick-idle off` over modem 1's socket lets modem 2 connect again.
#[test]
fn kick_idle_reaches_every_modem_of_a_fleet() {
    let sim = SimProcess::with_control(&["--count", "3"]);
    let first = sim.control();
    let base = first.to_str().unwrap().strip_suffix("-0").unwrap();
    let control = |i: usize| PathBuf::from(format!("{base}-{i}"));
    let ttys = sim.ttys();
    let mut ports: Vec<Port> = ttys
        .iter()
        .map(|t| Port::open(Path::new(t)).booted())
        .collect();
    // Into modem 2's control socket.
    process::fault(&control(2), &["kick-idle", "0.5"]);
    for i in [2, 1] {
        let port = &mut ports[i];
        kicked_while_idle(port, &format!("fleet-{i}"));
        assert!(port.at("AT+MIPCLOSE").contains("767"), "modem {i}");
    }
    process::fault(&control(1), &["kick-idle", "off"]);
    ports[2].connect("fleet-2");
}

/// A second client with the same client id takes the session over: the broker drops the
/// modem's link, and the modem says `CLOSED` (no injection).
#[test]
fn a_second_client_with_the_same_id_kicks_the_modem() {
    let (sim, mut port) = SimProcess::controlled(&[]);
    port.connect("twin");
    let addr = sim.mqtt();
    let mut opts = rumqttc::MqttOptions::new("twin", addr.ip().to_string(), addr.port());
    opts.set_credentials("root", "luat123456");
    let (_client, mut conn) = rumqttc::Client::new(opts, 10);
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "the twin got no CONNACK");
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) = conn
            .recv_timeout(Duration::from_secs(1))
            .unwrap_or(Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::PingReq)))
        {
            break;
        }
    }
    port.until("\r\nCLOSED\r\n");
    assert!(port.at("AT+MIPCLOSE").contains("+CME ERROR: 767"));
}

/// The L610: `closed` breaks the open client with `+MQTTBREAK`; `pdn-deact` ends the call.
#[test]
fn l610_closed_is_mqttbreak_and_pdn_deact_ends_the_call() {
    let sim = SimProcess::with_control(&["--dialect", "l610"]);
    let mut port = sim.raw_port();
    let addr = sim.mqtt();
    port.until("+SIM READY\r\n");
    assert!(port.at("AT+MIPCALL=1").contains("OK"));
    port.until("+MIPCALL: ");
    let open = format!("AT+MQTTOPEN=1,\"{}\",{},1,60", addr.ip(), addr.port());
    port.at_ok("AT+MQTTUSER=1,\"root\",\"luat123456\"");
    port.send(format!("{open}\r").as_bytes());
    port.until("+MQTTOPEN: 1,1\r\n");
    sim.fault(&["closed"]);
    port.until("\r\n+MQTTBREAK: 1,1\r\n");
    port.send(format!("{open}\r").as_bytes());
    port.until("+MQTTOPEN: 1,1\r\n");
    sim.fault(&["pdn-deact"]);
    port.until("\r\n+MIPCALL: 0\r\n\r\n+MQTTBREAK: 1,2\r\n");
    assert!(port.at("AT+MIPCALL?").contains("+MIPCALL: 0\r\n"));
}

/// A real fault, no injection: the broker process is killed. The Air780E prints `CLOSED`;
/// once the broker is back, seed 001's documented sequence (`MIPCLOSE`, then `MCONFIG`,
/// `MIPSTART`, `MCONNECT`) reaches `CONNACK OK` again.
#[test]
fn killing_the_broker_process_is_closed_and_recovery_works_after_restart() {
    let mut mosq = Mosquitto::start();
    let sim = SimProcess::spawn(&["--broker", &mosq.url()]);
    let mut port = sim.port();
    port.connect("dev7");
    mosq.kill();
    port.until("\r\nCLOSED\r\n");
    assert!(port.at("AT+MQTTSTATU").contains("+MQTTSTATU :0"));
    // While the broker is down, the connect fails.
    assert!(port.at("AT+MIPCLOSE").contains("+CME ERROR: 767"));
    port.mipstart("\r\nCONNECT FAIL\r\n");
    mosq.run();
    port.at_ok("AT+MIPCLOSE");
    port.connect("dev7");
}

/// `blackhole`: nothing gets through either way. The modem's keepalive expires (`CLOSED`); the
/// broker hears nothing, not even a FIN, until its own keepalive ends the session and
/// publishes the will.
#[test]
fn blackhole_expires_the_keepalive_on_both_sides() {
    let sim = SimProcess::with_control(&[]);
    let watcher = Watcher::start(sim.mqtt());
    let mut port = sim.port();
    let cfg = "AT+MCONFIG=\"dev8\",root,luat123456,0,0,\"will/dev8\",\"gone\"";
    port.at_ok(cfg);
    port.mipstart("CONNECT OK\r\n");
    port.send(b"AT+MCONNECT=1,1\r");
    port.until("CONNACK OK\r\n");
    sim.fault(&["blackhole"]);
    // A publish vanishes: the watcher never gets it, only the will.
    port.at_ok("AT+MPUB=\"t/lost\",0,0,\"lost\"");
    port.until("\r\nCLOSED\r\n");
    let (will, before) = watcher.next_after("will/dev8");
    assert_eq!(will, b"gone");
    assert!(
        !before.iter().any(|t| t == "t/lost") && watcher.rx.try_iter().all(|(t, _)| t != "t/lost"),
        "a blackholed publish reached the broker"
    );
    // New links are not blackholed.
    assert!(port.at("AT+MIPCLOSE").contains("767"));
    port.connect("dev8");
}

/// `urc-in-response`: the next URC (here the `CLOSED` of an injected `closed`) is printed
/// between the echo of the next command and its answer.
#[test]
fn urc_in_response_puts_the_urc_between_echo_and_answer() {
    let (sim, mut port) = SimProcess::controlled(&[]);
    port.connect("dev9");
    sim.fault(&["urc-in-response"]);
    sim.fault(&["closed"]);
    assert_eq!(
        port.at("AT+CSQ"),
        "AT+CSQ\r\r\nCLOSED\r\n\r\n+CSQ: 29,0\r\n\r\nOK\r\n"
    );
    // Only the next URC: the rest is back to normal.
    assert!(port
        .at("AT+MIPCLOSE")
        .ends_with("AT+MIPCLOSE\r\r\n+CME ERROR: 767\r\n"));
}

/// `uart-garbage`: noise bytes before the module's lines; `off` stops it. `uart-fragment`
/// and `latency`: the whole flow still works, byte for byte.
#[test]
fn uart_garbage_fragment_and_latency_keep_every_answer_intact() {
    let sim = SimProcess::with_control(&[]);
    let watcher = Watcher::start(sim.mqtt());
    let mut port = sim.port();
    sim.fault(&["uart-garbage"]);
    let noisy = port.at("AT+CSQ");
    assert!(
        noisy.contains(['\0', '\u{1a}', '\u{fffd}']),
        "no noise: {noisy:?}"
    );
    assert!(noisy.contains("\r\n+CSQ: 29,0\r\n") && noisy.ends_with("\r\nOK\r\n"));
    sim.fault(&["uart-garbage", "off"]);
    assert_eq!(port.at("AT+CSQ"), "AT+CSQ\r\r\n+CSQ: 29,0\r\n\r\nOK\r\n");

    sim.fault(&["uart-fragment"]);
    sim.fault(&["latency", "150"]);
    assert_eq!(
        port.at("AT+CGMR"),
        "AT+CGMR\r\r\n+CGMR: \"AirM2M_780E_V1169_LTE_AT\"\r\n\r\nOK\r\n"
    );
    port.connect("dev10");
    port.at_ok("AT+MPUB=\"t/slow\",1,0,\"late\"");
    port.until("\r\nPUBACK\r\n");
    assert_eq!(watcher.next("t/slow"), b"late");
    sim.fault(&["latency", "0"]);
    sim.fault(&["uart-fragment", "off"]);
}

/// Triggers: a fault fires on the modem's Nth PUBLISH, its next SUBSCRIBE, after its next
/// CONNACK, or after a delay. `inject` exits 0 once the fault is armed.
#[test]
fn triggers_fire_on_publish_subscribe_connack_and_after_a_delay() {
    let sim = SimProcess::with_control(&[]);
    let watcher = Watcher::start(sim.mqtt());
    let mut port = sim.port();
    sim.fault(&["signal", "9", "on", "connack"]);
    assert!(port.at("AT+CSQ").contains("+CSQ: 29,0"), "fired too early");
    port.connect("dev11");
    assert!(port.at("AT+CSQ").contains("+CSQ: 9,0"));

    sim.fault(&["closed", "on", "publish", "2"]);
    assert_eq!(
        port.at("AT+MPUB=\"t/1\",0,0,\"one\""),
        "AT+MPUB=\"t/1\",0,0,\"one\"\r\r\nOK\r\n"
    );
    assert!(port
        .at("AT+MPUB=\"t/2\",0,0,\"two\"")
        .ends_with("\r\nOK\r\n"));
    port.until("\r\nCLOSED\r\n");
    // The PUBLISH that set it off went out before the FIN.
    assert_eq!(watcher.next("t/1"), b"one");
    assert_eq!(watcher.next("t/2"), b"two");
    assert_eq!(watcher.next("will/dev11"), b"gone");
    assert!(port.at("AT+MIPCLOSE").contains("767"));

    port.connect("dev11");
    sim.fault(&["pdn-deact", "on", "subscribe"]);
    port.at_ok("AT+MSUB=\"t/x\",0");
    port.until("\r\n+CGEV: NW PDN DEACT 1\r\n");
    port.at_ok("AT+MIPCLOSE");

    port.connect("dev11");
    sim.fault(&["closed", "after", "0.2"]);
    port.until("\r\nCLOSED\r\n");

    // kick-idle is the broker's: now or after a delay only.
    let out = sim.inject(&["kick-idle", "5", "on", "connack"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not on a protocol event"));
    let out = sim.inject(&["closed", "on", "lunch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("on connack"));
}

/// Without `--control` the socket lives in a private directory under TMPDIR; those left by
/// killed simulators are swept at startup, those of live ones kept.
#[test]
fn private_control_directories_of_killed_simulators_are_swept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let stale = tmp.path().join(format!("modem-sim-{dead_pid}-0"));
    let alive = tmp
        .path()
        .join(format!("modem-sim-{}-0", std::process::id()));
    std::fs::create_dir(&stale).unwrap();
    std::fs::create_dir(&alive).unwrap();
    let sim = SimProcess::spawn_with(&[], |cmd| {
        cmd.env("TMPDIR", tmp.path());
    });
    let control = sim.control();
    drop(sim);
    assert!(control.starts_with(tmp.path()), "{control:?}");
    assert!(!stale.exists(), "the killed simulator's directory was kept");
    assert!(alive.exists(), "a live process's directory was removed");
}

/// No loss under `uart-fragment` (issue 7): QoS 1 messages up through `AT+MPUB` and down as
/// `+MSUB` each arrive exactly once and in order while every UART write is cut into 1-8 byte
/// pieces. 1,000 each way rather than the 10,000 of the unfragmented test in e2e.rs: each piece
/// is a millisecond apart, so 10,000 would take minutes.
#[test]
fn no_loss_under_uart_fragment() {
    const N: usize = 1000;
    let sim = SimProcess::with_control(&[]);
    let watcher = Watcher::start(sim.mqtt());
    let mut port = sim.port();
    assert!(port.at("ATE0").ends_with("\r\nOK\r\n"));
    sim.fault(&["uart-fragment"]);
    port.connect("frag");
    for i in 0..N {
        port.send(format!("AT+MPUB=\"t/up\",1,0,\"{i}\"\r").as_bytes());
        assert_eq!(
            port.until("PUBACK\r\n"),
            "\r\nOK\r\n\r\nPUBACK\r\n",
            "message {i}"
        );
    }
    for i in 0..N {
        assert_eq!(
            watcher.next("t/up"),
            i.to_string().into_bytes(),
            "message {i}"
        );
    }

    port.send(b"AT+MSUB=\"d/x\",1\r");
    assert_eq!(port.until("SUBACK\r\n"), "\r\nOK\r\n\r\nSUBACK\r\n");
    let addr = sim.mqtt();
    let publisher = std::thread::spawn(move || {
        let mut o = rumqttc::MqttOptions::new("source", addr.ip().to_string(), addr.port());
        o.set_credentials("root", "luat123456");
        let (client, mut conn) = rumqttc::Client::new(o, 100);
        let sender = std::thread::spawn(move || {
            for i in 0..N {
                client
                    .publish("d/x", rumqttc::QoS::AtLeastOnce, false, i.to_string())
                    .unwrap();
            }
            client
        });
        let mut acked = 0;
        for ev in conn.iter() {
            match ev {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                    acked += 1;
                    if acked == N {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("publisher: {e}"),
            }
        }
        sender.join().unwrap()
    });
    for i in 0..N {
        let payload = i.to_string();
        let line = format!("\r\n+MSUB: \"d/x\",{} byte,{payload}\r\n", payload.len());
        assert_eq!(
            port.until(&line),
            line,
            "message {i}: nothing else before it"
        );
    }
    let _client = publisher.join().unwrap();
    sim.fault(&["uart-fragment", "off"]);
}

// --- issue 11: power-on, reset, power-cycle, CFUN ---

/// Starting the simulator is a power-on: the lines wait in the tty for whoever opens it.
/// `AT+RESET` answers `OK` and boots again; the MQTT session before it is gone without a
/// DISCONNECT (the broker publishes the will) and `AT+MQTTSTATU` reads 0. `power-cycle` does
/// the same, and only what `AT&W` saved survives it.
#[test]
fn power_on_reset_and_power_cycle() {
    let sim = SimProcess::with_control(&["--time", "2024/08/23,06:52:50"]);
    let watcher = Watcher::start(sim.mqtt());
    let mut port = sim.raw_port();
    // Seed 000 section 6.3's lines for the default Air780E V1169, RDY first.
    let boot = port.until("+NITZ: 2024/08/23,06:52:");
    assert_eq!(
        boot,
        "\r\nRDY\r\n\r\n^MODE: 17,17\r\n\r\n+E_UTRAN Service\r\n\r\n+CGEV: ME PDN ACT 1,0\r\n\r\n+NITZ: 2024/08/23,06:52:"
    );
    assert!(port.until("\r\n").ends_with("+0,0\r\n"));
    port.at_ok("ATE0");
    port.connect("reset1");
    assert_eq!(port.at("AT+RESET"), "\r\nOK\r\n");
    let again = port.until("+NITZ: ");
    assert!(
        again.starts_with("\r\nRDY\r\n\r\n^MODE: 17,17\r\n"),
        "{again:?}"
    );
    port.until("\r\n");
    assert_eq!(watcher.next("will/reset1"), b"gone");
    // Echo is back on after the reset (ATE0 was never saved).
    assert_eq!(
        port.at("AT+MQTTSTATU"),
        "AT+MQTTSTATU\r\r\n+MQTTSTATU :0\r\n\r\nOK\r\n"
    );
    // Save a setting, change another, then cut the power.
    port.at_ok("ATE0");
    assert_eq!(port.at("AT+CEREG=1"), "\r\nOK\r\n");
    assert_eq!(port.at("AT&W"), "\r\nOK\r\n");
    assert_eq!(port.at("AT+CGREG=1"), "\r\nOK\r\n");
    port.connect("pc1");
    sim.fault(&["power-cycle"]);
    let boot = port.until("+CEREG: 1\r\n");
    assert!(
        boot.starts_with("\r\nRDY\r\n") && boot.contains("+NITZ: ") && !boot.contains("+CGREG"),
        "{boot:?}"
    );
    assert_eq!(watcher.next("will/pc1"), b"gone");
    assert_eq!(
        port.at("AT+CEREG?"),
        "\r\n+CEREG: 1,1\r\n\r\nOK\r\n",
        "saved"
    );
    assert_eq!(
        port.at("AT+CGREG?"),
        "\r\n+CGREG: 0,1\r\n\r\nOK\r\n",
        "lost"
    );
    assert_eq!(port.at("AT+MQTTSTATU"), "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n");
    // The session works again after the boot.
    port.connect("pc2");
    port.at_ok("AT+MPUB=\"t/pc\",0,0,\"back\"");
    assert_eq!(watcher.next("t/pc"), b"back");
    // The watchdog does the same.
    sim.fault(&["watchdog-reset"]);
    port.until("+NITZ: ");
    assert_eq!(watcher.next("will/pc2"), b"gone");
}

/// `AT+CFUN=0` then `AT+MIPSTART` fails as the manual says; `AT+CFUN=1` and the session works
/// again.
#[test]
fn cfun_0_fails_connects_and_cfun_1_brings_them_back() {
    let sim = SimProcess::with_control(&[]);
    let watcher = Watcher::start(sim.mqtt());
    let mut port = sim.port();
    port.at_ok("ATE0");
    port.connect("radio1");
    assert_eq!(port.at("AT+CFUN=0"), "\r\nOK\r\n");
    assert_eq!(
        port.until("\r\n+CGEV: ME DETACH\r\n"),
        "\r\n+CGEV: ME DETACH\r\n"
    );
    assert_eq!(
        watcher.next("will/radio1"),
        b"gone",
        "the link went with the radio"
    );
    assert_eq!(port.at("AT+MQTTSTATU"), "\r\n+MQTTSTATU :0\r\n\r\nOK\r\n");
    assert_eq!(port.at("AT+CEREG?"), "\r\n+CEREG: 0,0\r\n\r\nOK\r\n");
    port.send(b"AT+MIPSTART=\"lbsmqtt.airm2m.com\",\"1884\"\r");
    assert_eq!(
        port.until("CONNECT FAIL\r\n"),
        "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n\r\nCONNECT FAIL\r\n"
    );
    assert_eq!(port.at("AT+CFUN=1"), "\r\nOK\r\n");
    let on = port.until("+NITZ: ");
    assert_eq!(
        on,
        "\r\n^MODE: 17,17\r\n\r\n+E_UTRAN Service\r\n\r\n+CGEV: ME PDN ACT 1,0\r\n\r\n+NITZ: "
    );
    port.until("\r\n");
    port.connect("radio2");
    port.at_ok("AT+MPUB=\"t/radio\",0,0,\"on\"");
    assert_eq!(watcher.next("t/radio"), b"on");
}

/// The L610 restarts on `AT+CFUN=15` and on `power-cycle`: the open client's will fires.
#[test]
fn l610_reset_and_power_cycle() {
    let sim = SimProcess::with_control(&["--dialect", "l610"]);
    let watcher = Watcher::start(sim.mqtt());
    let addr = sim.mqtt();
    let mut port = sim.port();
    port.at_ok("ATE0");
    let open = |port: &mut Port, id: &str| {
        assert!(port.at("AT+MIPCALL=1").contains("OK"));
        port.until("+MIPCALL: ");
        port.until("\r\n");
        let user = format!("AT+MQTTUSER=1,\"root\",\"luat123456\",\"{id}\"");
        port.at_ok(&user);
        let will = format!("AT+MQTTWILL=1,\"will/{id}\",0,0,\"gone\"");
        port.at_ok(&will);
        port.send(format!("AT+MQTTOPEN=1,\"{}\",{},1,60\r", addr.ip(), addr.port()).as_bytes());
        port.until("+MQTTOPEN: 1,1\r\n");
    };
    open(&mut port, "l610a");
    assert_eq!(port.at("AT+CFUN=15"), "\r\nOK\r\n");
    assert_eq!(
        port.until("+SIM READY\r\n"),
        "\r\nAT command ready\r\n\r\n+SIM READY\r\n"
    );
    assert_eq!(watcher.next("will/l610a"), b"gone");
    port.at_ok("ATE0");
    open(&mut port, "l610b");
    sim.fault(&["power-cycle"]);
    port.until("+SIM READY\r\n");
    assert_eq!(watcher.next("will/l610b"), b"gone");
}
