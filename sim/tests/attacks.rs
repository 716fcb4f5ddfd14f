//! The attack table (`fixtures/attacks/attacks.tsv`, issue 15): attacks through the real
//! binary's interfaces, in file order against one simulator, each followed by its liveness check
//! and held to its bounds (RSS growth, time, what `modem-sim status` counted).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::{Rng, SeedableRng};
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, Login, Packet, Publish, Subscribe,
};
use rumqttc::mqttbytes::QoS;

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{exit_within_wait, find, status_of, At, Port, SimProcess, WAIT};

fn connect_packet(id: &str, password: &str) -> Packet {
    let mut c = Connect::new(id);
    c.keep_alive = 60;
    c.login = Some(Login::new("root", password));
    Packet::Connect(c)
}

fn encode(packets: &[Packet]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for p in packets {
        p.write(&mut out, usize::MAX).unwrap();
    }
    out.to_vec()
}

/// Reads the next packet and insists that it is a CONNACK with `code` (no session present).
fn expect_connack(s: &mut TcpStream, buf: &mut BytesMut, code: ConnectReturnCode, why: &str) {
    assert_eq!(
        read_packet(s, buf),
        Some(Packet::ConnAck(ConnAck::new(code, false))),
        "{why}"
    );
}

/// Reads one MQTT packet (None at EOF or on timeout).
fn read_packet(s: &mut TcpStream, buf: &mut BytesMut) -> Option<Packet> {
    s.set_read_timeout(Some(WAIT)).unwrap();
    loop {
        match Packet::read(buf, usize::MAX) {
            Ok(p) => return Some(p),
            Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
            Err(e) => panic!("broker sent garbage: {e}"),
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// True when the peer closes within `WAIT` (reading and discarding meanwhile).
fn closed_by_peer(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut sink = [0u8; 4096];
    loop {
        match s.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

struct Rig {
    sim: SimProcess,
    port: Port,
    mqtt: SocketAddr,
    mqtts: SocketAddr,
    control: String,
}

impl Rig {
    fn start() -> Rig {
        let sim = SimProcess::spawn(&[]);
        let mut port = sim.port();
        port.at("ATE0", "OK\r\n");
        port.at("AT+MCONFIG=attacked,root,luat123456", "OK\r\n");
        let mqtt = sim.field("mqtt").parse().unwrap();
        let mqtts = sim.field("mqtts").parse().unwrap();
        let control = sim.field("control");
        Rig {
            sim,
            port,
            mqtt,
            mqtts,
            control,
        }
    }

    /// Connected and subscribed to `attack/#` at QoS 1 (again after a row that dropped it).
    fn online(&mut self) {
        self.port.drain(20);
        self.port.seen.clear();
        let statu = self.port.at("AT+MQTTSTATU", "OK\r\n");
        if !statu.contains(":1") {
            self.port.at("AT+MIPCLOSE", "\r\n");
            self.port.drain(50);
            self.port.at("AT+MIPSTART=\"h\",1883", "CONNECT OK\r\n");
            self.port.at("AT+MCONNECT=1,60", "CONNACK OK\r\n");
            self.port.at("AT+MSUB=\"attack/#\",1", "SUBACK\r\n");
        }
    }

    fn status(&self) -> serde_json::Value {
        status_of(&self.control)
    }

    fn inject(&self, fault: &str) {
        self.sim.fault(&fault.split(' ').collect::<Vec<_>>());
    }

    /// The liveness check after every row.
    fn alive(&mut self, why: &str) {
        self.port.drain(20);
        self.port.seen.clear();
        // URCs may still come (a flood the host reads again): the answer is what ends it.
        let answer = self.port.at("AT", "OK\r\n");
        assert!(
            answer.ends_with("\r\nOK\r\n"),
            "AT after: {why}: {answer:?}"
        );
        let statu = self.port.at("AT+MQTTSTATU", "OK\r\n");
        assert!(
            statu.contains("+MQTTSTATU :1"),
            "link after {why}: {statu:?}"
        );
        let mut s = TcpStream::connect(self.mqtt).unwrap();
        s.write_all(&encode(&[
            connect_packet("alive", "luat123456"),
            Packet::PingReq,
        ]))
        .unwrap();
        let mut buf = BytesMut::new();
        expect_connack(
            &mut s,
            &mut buf,
            ConnectReturnCode::Success,
            &format!("broker after: {why}"),
        );
        assert_eq!(read_packet(&mut s, &mut buf), Some(Packet::PingResp));
        self.status();
    }

    /// Host side: reads until `n` `+MSUB`s of `attack/...` arrived. Fewer pass only when the
    /// simulator counted lost UART output covering them (each missing message at least its
    /// 1 kB payload, after a host stall: a module without flow control loses output too, and
    /// a loaded test machine can stop the reading thread for 2 s), and the loss is reported;
    /// otherwise it panics after WAIT of silence.
    fn read_msubs(&mut self, n: usize) {
        let uart = |st: &serde_json::Value, k: &str| st["uart"][k].as_u64().unwrap_or(0);
        let before = self.status();
        let header = b"+MSUB: \"attack/";
        let (mut got, mut tail) = (0, Vec::new());
        let mut last = Instant::now();
        while got < n && last.elapsed() < WAIT {
            let more = self.port.read_some(50);
            if more.is_empty() {
                continue;
            }
            last = Instant::now();
            tail.extend_from_slice(&more);
            let mut from = 0;
            while let Some(at) = find(&tail[from..], header) {
                got += 1;
                from += at + header.len();
            }
            let keep = from.max(tail.len().saturating_sub(header.len()));
            tail.drain(..keep);
        }
        if got < n {
            let after = self.status();
            let lost = uart(&after, "dropped_bytes") - uart(&before, "dropped_bytes");
            let stalls = uart(&after, "stalls") - uart(&before, "stalls");
            let writes = uart(&after, "dropped_writes") - uart(&before, "dropped_writes");
            // Every missing line must be a write the simulator dropped and counted (a host
            // stall, or its bounded UART queue full while this loaded machine read late).
            assert!(
                writes >= (n - got) as u64 && lost >= (n - got) as u64 * 1000,
                "only {got} of {n} +MSUB, and the simulator counted {lost} bytes lost in {writes} writes ({stalls} stalls): {after}"
            );
            eprintln!(
                "{} of {n} +MSUB dropped by the UART, counted: {lost} bytes in {writes} writes ({stalls} stalls)",
                n - got
            );
        }
    }

    fn run(&mut self, attack: &str, n: usize) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(15);
        match attack {
            "pty-random" => {
                let mut writer = self.port.file.try_clone().unwrap();
                let w = std::thread::spawn(move || {
                    let mut chunk = vec![0u8; 64 * 1024];
                    for _ in 0..n / chunk.len() {
                        rng.fill(&mut chunk[..]);
                        writer.write_all(&chunk).unwrap();
                        writer.write_all(b"\rAT\r").unwrap();
                    }
                });
                while !w.is_finished() {
                    self.port.drain(20);
                }
                w.join().unwrap();
                self.port.send(b"\r");
            }
            "pty-long-line" => {
                let mut writer = self.port.file.try_clone().unwrap();
                let w = std::thread::spawn(move || {
                    let chunk = vec![b'A'; 64 * 1024];
                    for _ in 0..n / chunk.len() {
                        writer.write_all(&chunk).unwrap();
                    }
                    writer.write_all(b"\r").unwrap();
                });
                let mut answers = Vec::new();
                while !w.is_finished() {
                    answers.extend(self.port.drain(20));
                }
                w.join().unwrap();
                self.port.seen = answers;
                self.port.until("ERROR\r\n");
            }
            "pty-pipelined" => {
                self.port.send("AT\r".repeat(n).as_bytes());
                let (mut oks, mut all) = (0, Vec::new());
                let mut last = Instant::now();
                while oks < n {
                    assert!(last.elapsed() < WAIT, "{oks} of {n} OK");
                    let more = self.port.read_some(50);
                    if !more.is_empty() {
                        last = Instant::now();
                    }
                    all.extend_from_slice(&more);
                    oks = all.windows(4).filter(|w| w == b"OK\r\n").count();
                }
                assert_eq!(all, b"\r\nOK\r\n".repeat(n), "nothing but {n} OK");
            }
            "broker-garbage" | "tls-garbage" => {
                let to = if attack == "tls-garbage" {
                    self.mqtts
                } else {
                    self.mqtt
                };
                let mut s = TcpStream::connect(to).unwrap();
                let mut junk = vec![0u8; n];
                rng.fill(&mut junk[..]);
                let _ = s.write_all(&junk);
                assert!(closed_by_peer(&mut s), "{attack}: the link stays open");
            }
            "broker-huge-length" => {
                let mut s = TcpStream::connect(self.mqtt).unwrap();
                s.write_all(&encode(&[connect_packet("huge", "luat123456")]))
                    .unwrap();
                let _ = s.write_all(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]);
                for _ in 0..100 {
                    if s.write_all(&[b'x'; 1024]).is_err() {
                        break;
                    }
                }
                assert!(n > 1 << 20);
                assert!(closed_by_peer(&mut s), "a 250 MB packet is refused at once");
            }
            "broker-connect-pipeline" => {
                let mut packets = vec![connect_packet("pipeliner", "luat123456")];
                for i in 0..n {
                    packets.push(Packet::Publish(Publish::new(
                        "attack/pipeline",
                        QoS::AtMostOnce,
                        format!("p{i}"),
                    )));
                }
                packets.push(Packet::Disconnect);
                let mut s = TcpStream::connect(self.mqtt).unwrap();
                s.write_all(&encode(&packets)).unwrap();
                assert!(closed_by_peer(&mut s));
                self.read_msubs(n);
            }
            "broker-clients" | "control-clients" => {
                let mut held = Vec::new();
                for _ in 0..n {
                    if attack == "broker-clients" {
                        held.push(Box::new(TcpStream::connect(self.mqtt).unwrap()) as Box<dyn Send>);
                    } else {
                        held.push(Box::new(UnixStream::connect(&self.control).unwrap()));
                    }
                }
                self.alive(&format!("{attack} (while held)"));
                drop(held);
            }
            "broker-bad-password" => {
                for i in 0..n {
                    let mut s = TcpStream::connect(self.mqtt).unwrap();
                    s.write_all(&encode(&[connect_packet(&format!("bad{i}"), "wrong")]))
                        .unwrap();
                    let mut buf = BytesMut::new();
                    expect_connack(
                        &mut s,
                        &mut buf,
                        ConnectReturnCode::BadUserNamePassword,
                        &format!("bad password {i}"),
                    );
                }
            }
            "broker-slowloris" => {
                self.inject("kick-idle 1");
                let bytes = encode(&[connect_packet("slow", "luat123456")]);
                let mut socks: Vec<TcpStream> = (0..n)
                    .map(|_| TcpStream::connect(self.mqtt).unwrap())
                    .collect();
                for s in &mut socks {
                    let _ = s.write_all(&bytes[..1]);
                }
                for s in &mut socks {
                    assert!(
                        closed_by_peer(s),
                        "slowloris not closed by the connect timeout"
                    );
                }
                self.inject("kick-idle off");
            }
            "broker-burst" | "broker-burst-qos0" => {
                let qos = if attack == "broker-burst" {
                    QoS::AtLeastOnce
                } else {
                    QoS::AtMostOnce
                };
                let mut s = TcpStream::connect(self.mqtt).unwrap();
                let w = std::thread::spawn(move || {
                    let mut chunk = BytesMut::new();
                    connect_packet("burster", "luat123456")
                        .write(&mut chunk, usize::MAX)
                        .unwrap();
                    for i in 0..n {
                        let mut p = Publish::new("attack/burst", qos, vec![b'b'; 1000]);
                        if qos == QoS::AtLeastOnce {
                            p.pkid = (i % 60_000 + 1) as u16;
                        }
                        Packet::Publish(p).write(&mut chunk, usize::MAX).unwrap();
                        if chunk.len() >= 64 * 1024 {
                            s.write_all(&chunk).unwrap();
                            chunk.clear();
                        }
                    }
                    s.write_all(&chunk).unwrap();
                    // Its PUBACKs are read until the end.
                    s.set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    let mut sink = [0u8; 4096];
                    while let Ok(1..) = s.read(&mut sink) {}
                });
                self.read_msubs(n);
                w.join().unwrap();
            }
            "pty-not-reading" => {
                let before = self.status()["uart"]["dropped_writes"].as_u64().unwrap();
                let mut s = TcpStream::connect(self.mqtt).unwrap();
                let mut chunk = BytesMut::new();
                connect_packet("flooder", "luat123456")
                    .write(&mut chunk, usize::MAX)
                    .unwrap();
                for i in 0..n {
                    let mut p = Publish::new("attack/unread", QoS::AtLeastOnce, vec![b'u'; 1000]);
                    p.pkid = (i + 1) as u16;
                    Packet::Publish(p).write(&mut chunk, usize::MAX).unwrap();
                }
                s.write_all(&chunk).unwrap();
                // The host reads nothing until the simulator says it lost output.
                let deadline = Instant::now() + WAIT;
                loop {
                    let st = self.status();
                    if st["uart"]["dropped_writes"].as_u64().unwrap() > before
                        && st["uart"]["host_stalled"] == true
                    {
                        break;
                    }
                    assert!(Instant::now() < deadline, "nothing counted as lost: {st}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                drop(s);
            }
            "broker-retained" => {
                // n retained messages of 10 kB (100 MB for 10,000), then each deleted: the
                // memory must go back (the RSS bound is checked after the row).
                let mut s = TcpStream::connect(self.mqtt).unwrap();
                let mut buf = BytesMut::new();
                let sync = |s: &mut TcpStream, chunk: &mut BytesMut, buf: &mut BytesMut| {
                    Packet::PingReq.write(chunk, usize::MAX).unwrap();
                    s.write_all(chunk).unwrap();
                    chunk.clear();
                    while read_packet(s, buf) != Some(Packet::PingResp) {}
                };
                let mut chunk = BytesMut::new();
                connect_packet("retainer", "luat123456")
                    .write(&mut chunk, usize::MAX)
                    .unwrap();
                for payload in [vec![b'r'; 10_000], Vec::new()] {
                    for i in 0..n {
                        let mut p =
                            Publish::new(format!("kept/{i}"), QoS::AtMostOnce, payload.clone());
                        p.retain = true;
                        Packet::Publish(p).write(&mut chunk, usize::MAX).unwrap();
                        if chunk.len() > 1 << 20 {
                            s.write_all(&chunk).unwrap();
                            chunk.clear();
                        }
                    }
                    sync(&mut s, &mut chunk, &mut buf);
                    let kept = self.status()["broker"]["retained"].as_u64().unwrap();
                    assert_eq!(kept, if payload.is_empty() { 0 } else { n as u64 });
                }
            }
            "control-garbage" => {
                let mut c = UnixStream::connect(&self.control).unwrap();
                let mut junk = vec![0u8; n];
                rng.fill(&mut junk[..]);
                for b in junk.iter_mut().step_by(100) {
                    *b = b'\n';
                }
                c.write_all(&junk).unwrap();
                c.write_all(b"\n").unwrap();
                c.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                let mut replies = Vec::new();
                let mut buf = [0u8; 65536];
                while let Ok(k @ 1..) = c.read(&mut buf) {
                    replies.extend_from_slice(&buf[..k]);
                }
                let errors = replies
                    .split(|b| *b == b'\n')
                    .filter(|l| l.starts_with(b"{\"ok\":false"))
                    .count();
                assert!(errors >= n / 100, "{errors} error replies");
            }
            "control-long-line" => {
                let mut c = UnixStream::connect(&self.control).unwrap();
                let chunk = vec![b'x'; 64 * 1024];
                for _ in 0..n / chunk.len() {
                    if c.write_all(&chunk).is_err() {
                        break;
                    }
                }
                c.set_read_timeout(Some(WAIT)).unwrap();
                let mut buf = [0u8; 4096];
                // The server stops reading after 1 MiB and ends the connection.
                while let Ok(1..) = c.read(&mut buf) {}
            }
            "control-injections" => {
                let mut c = UnixStream::connect(&self.control).unwrap();
                let mut reader = std::io::BufReader::new(c.try_clone().unwrap());
                for i in 0..n {
                    writeln!(c, "signal {}", i % 32).unwrap();
                    let mut line = String::new();
                    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
                    assert!(line.starts_with("{\"ok\":true"), "{line}");
                }
                let last = (n - 1) % 32;
                self.port.at("AT+CSQ", &format!("+CSQ: {last},0"));
            }
            other => panic!("the attack table names an attack the runner does not know: {other}"),
        }
    }
}

/// `field>N` / `field=N` against the status JSON (`uart.dropped_writes`).
/// `--broker-max-queued-bytes` and `--broker-queue-qos0-messages` through the real binary
/// (Mosquitto's `max_queued_bytes` and `queue_qos0_messages`, mosquitto.conf(5) 2.0.11): a
/// persistent subscriber that is offline gets what fits under the byte limit (QoS 0 included,
/// queued first), and `modem-sim status` counts the rest. Without the QoS 0 flag the two QoS 0
/// messages would not be kept and three QoS 1 would fit; without the byte limit all five.
#[test]
fn queue_limit_flags_bound_an_offline_session_and_count_its_drops() {
    let sim = SimProcess::spawn(&[
        "--broker-max-queued-bytes",
        "100",
        "--broker-queue-qos0-messages",
    ]);
    let addr: SocketAddr = sim.field("mqtt").parse().unwrap();
    let keeper = |packets: &[Packet]| {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut c = Connect::new("keeper");
        c.keep_alive = 60;
        c.clean_session = false;
        c.login = Some(Login::new("root", "luat123456"));
        let mut all = vec![Packet::Connect(c)];
        all.extend_from_slice(packets);
        s.write_all(&encode(&all)).unwrap();
        let mut buf = BytesMut::new();
        let first = read_packet(&mut s, &mut buf);
        assert!(matches!(first, Some(Packet::ConnAck(_))), "{first:?}");
        // What waited for the session is written right after CONNACK, before this answer.
        s.write_all(&encode(&[Packet::PingReq])).unwrap();
        let mut got = Vec::new();
        loop {
            match read_packet(&mut s, &mut buf).expect("the broker answers") {
                Packet::PingResp => break,
                Packet::Publish(p) => got.push((p.qos, p.payload.to_vec())),
                _ => {}
            }
        }
        s.write_all(&encode(&[Packet::Disconnect])).unwrap();
        // Closed once the session is offline.
        assert!(closed_by_peer(&mut s));
        got
    };
    let mut sub = Subscribe::new("q/#", QoS::AtLeastOnce);
    sub.pkid = 1;
    assert!(keeper(&[Packet::Subscribe(sub)]).is_empty());
    // While it is away: two QoS 0 and three QoS 1 messages of 40 bytes.
    let mut publisher = TcpStream::connect(addr).unwrap();
    let mut packets = vec![connect_packet("pub", "luat123456")];
    for i in 0..5u16 {
        let qos = if i < 2 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let mut p = Publish::new("q/t", qos, vec![b'0' + i as u8; 40]);
        p.pkid = if i < 2 { 0 } else { i };
        packets.push(Packet::Publish(p));
    }
    packets.push(Packet::PingReq);
    publisher.write_all(&encode(&packets)).unwrap();
    let mut buf = BytesMut::new();
    while !matches!(
        read_packet(&mut publisher, &mut buf),
        Some(Packet::PingResp) | None
    ) {}
    let status = status_of(&sim.field("control"));
    assert_eq!(status["broker"]["dropped_queued"], 2, "{status}");
    assert_eq!(status["broker"]["dropped_qos0"], 0, "{status}");
    // 80 bytes wait after the QoS 0 pair: one more fits (the limit is reached at 120).
    let got = keeper(&[]);
    let want = vec![
        (QoS::AtMostOnce, vec![b'0'; 40]),
        (QoS::AtMostOnce, vec![b'1'; 40]),
        (QoS::AtLeastOnce, vec![b'2'; 40]),
    ];
    assert_eq!(got, want);
}

fn check_counted(status: &serde_json::Value, rule: &str, why: &str) {
    if rule == "-" {
        return;
    }
    let (path, op, n) = match rule.split_once('>') {
        Some((p, n)) => (p, '>', n),
        None => {
            let (p, n) = rule.split_once('=').expect("counted: field>N or field=N");
            (p, '=', n)
        }
    };
    let n: u64 = n.parse().unwrap();
    let v = path
        .split('.')
        .fold(status, |v, k| &v[k])
        .as_u64()
        .unwrap_or_else(|| panic!("status has no {path}: {status}"));
    match op {
        '>' => assert!(v > n, "{why}: {path} = {v}, expected > {n}"),
        _ => assert_eq!(v, n, "{why}: {path}"),
    }
}

#[test]
fn the_attack_table_through_the_real_binary() {
    let table = include_str!("../../fixtures/attacks/attacks.tsv");
    let mut rig = Rig::start();
    let mut rows = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 6, "six columns: {line:?}");
        let (attack, n, rss, secs, counted, why) = (
            f[0],
            f[1].parse::<usize>().unwrap(),
            f[2].parse::<u64>().unwrap(),
            f[3].parse::<u64>().unwrap(),
            f[4],
            f[5],
        );
        rig.online();
        let before = rig.sim.rss_kib();
        let started = Instant::now();
        rig.run(attack, n);
        rig.alive(why);
        let took = started.elapsed();
        let grown = rig.sim.rss_kib().saturating_sub(before);
        let status = rig.status();
        eprintln!(
            "{attack} ({n}): {:.1} s, RSS +{} KiB; status {}",
            took.as_secs_f64(),
            grown,
            status
        );
        assert!(
            grown <= rss * 1024,
            "{attack}: RSS grew by {grown} KiB (bound {rss} MiB)"
        );
        assert!(
            took <= Duration::from_secs(secs),
            "{attack}: {took:?} (bound {secs} s)"
        );
        check_counted(&status, counted, why);
        rows += 1;
    }
    assert!(rows >= 15, "{rows} rows");
}

/// Runs the binary with `args` (RUST_LOG=error); kills it and fails if it has not ended within
/// WAIT. Returns (exit code, stdout, stderr).
fn run_bounded(args: &[String]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modem-sim"))
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = exit_within_wait(&mut child, &format!("modem-sim {args:?}"));
    let read = |from: &mut dyn Read| {
        let mut text = String::new();
        from.read_to_string(&mut text).unwrap();
        text
    };
    let out = read(child.stdout.as_mut().unwrap());
    let err = read(child.stderr.as_mut().unwrap());
    (status.code().unwrap_or(-1), out, err)
}

#[test]
fn every_bad_flag_and_file_gets_one_line_and_the_right_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = d.join("notes.txt");
    std::fs::write(&text, "not a certificate\n").unwrap();
    let big = d.join("big.pem");
    std::fs::write(&big, vec![b'A'; 2 << 20]).unwrap();
    let fifo = d.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let missing = d.join("missing");
    let long = d.join(format!("{}.sock", "l".repeat(120)));
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let subst = |s: &str| {
        s.replace("{dir}", &d.display().to_string())
            .replace("{text}", &text.display().to_string())
            .replace("{big}", &big.display().to_string())
            .replace("{fifo}", &fifo.display().to_string())
            .replace("{missing}", &missing.display().to_string())
            .replace("{long}", &long.display().to_string())
            .replace("{busy}", &busy_addr)
    };
    let table = include_str!("../../fixtures/attacks/flags.tsv");
    let mut rows = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "four columns: {line:?}");
        let args: Vec<String> = subst(f[0]).split(' ').map(String::from).collect();
        let want: i32 = f[1].parse().unwrap();
        let (code, out, err) = run_bounded(&args);
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information"))
            .collect();
        assert_eq!(lines.len(), 1, "{}: one line on stderr, got {err:?}", f[3]);
        for fragment in subst(f[2]).split('|') {
            assert!(
                lines[0].contains(fragment),
                "{}: {fragment:?} not in {:?}",
                f[3],
                lines[0]
            );
        }
        assert_eq!(code, want, "{}: exit code ({:?})", f[3], lines[0]);
        assert!(
            !out.contains("ready"),
            "{}: a banner before the failure: {out:?}",
            f[3]
        );
        rows += 1;
    }
    assert!(rows >= 19);
    drop(busy);
}
