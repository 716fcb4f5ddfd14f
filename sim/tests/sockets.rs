//! Issue 16's Air780E sockets through the real binary and its PTY, against a real Python
//! `socket` echo server (`support/echo_server.py`, which also logs what it received): a 10 kB
//! binary round trip byte for byte, UDP datagrams, three links at once with `AT+CIPMUX=1`, the
//! transparent mode in and out with `+++` and `ATO`, the `closed` fault and a peer close, the
//! embedded echo service, and `--direct`. Every prompt is sent with `\r\n`, `\r` and `\n`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{find, inject, lines_of, python, Port, SimProcess, WAIT};

const EOLS: [&str; 3] = ["\r\n", "\r", "\n"];

const ECHO_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/echo_server.py");

/// The transparent mode's escape guard (1 s of silence before `+++`) plus a margin: the module
/// requires this silence, so the host must keep it (a slower machine only waits longer).
const GUARD: Duration = Duration::from_millis(1300);

/// The Python echo server.
struct Echo {
    child: Child,
    stdin: ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    tcp: u16,
    udp: u16,
    dir: tempfile::TempDir,
}

impl Echo {
    fn start() -> Echo {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(python())
            .arg(ECHO_SCRIPT)
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdin = child.stdin.take().unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let port = |proto: &str| {
            let line = lines.recv_timeout(WAIT).expect("the echo server starts");
            let (p, n) = line.split_once(' ').unwrap();
            assert_eq!(p, proto);
            n.parse::<u16>().unwrap()
        };
        let tcp = port("tcp");
        let udp = port("udp");
        Echo {
            child,
            stdin,
            lines,
            tcp,
            udp,
            dir,
        }
    }

    /// What TCP connection `n` delivered to the server.
    fn tcp_log(&self, n: usize) -> Vec<u8> {
        std::fs::read(self.dir.path().join(format!("tcp-{n}"))).unwrap_or_default()
    }

    /// The datagrams the server received, in order.
    fn udp_log(&self) -> Vec<Vec<u8>> {
        let raw = std::fs::read(self.dir.path().join("udp")).unwrap_or_default();
        let mut out = Vec::new();
        let mut rest = &raw[..];
        while rest.len() >= 4 {
            let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            out.push(rest[4..4 + n].to_vec());
            rest = &rest[4 + n..];
        }
        out
    }

    /// The server ends TCP connection `n` (a peer close).
    fn close(&mut self, n: usize) {
        writeln!(self.stdin, "close {n}").unwrap();
        self.stdin.flush().unwrap();
        assert_eq!(
            self.lines.recv_timeout(WAIT).unwrap(),
            format!("closed {n}")
        );
    }

    /// Waits until connection `n`'s log holds `len` bytes (the server writes as it reads).
    fn wait_tcp_log(&self, n: usize, len: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.tcp_log(n);
            if log.len() >= len || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Received data, by link (`-1`: the single link's `+IPD`), and each frame as it came.
#[derive(Default)]
struct Inbox {
    by_link: HashMap<i32, Vec<u8>>,
    frames: Vec<(i32, Vec<u8>)>,
}

impl Inbox {
    fn new() -> Inbox {
        Inbox::default()
    }

    fn len(&self, link: i32) -> usize {
        self.by_link.get(&link).map_or(0, Vec::len)
    }

    fn take(&mut self, link: i32) -> Vec<u8> {
        self.by_link.remove(&link).unwrap_or_default()
    }
}

impl Port {
    /// Reads until `needle` appears outside received-data frames; the frames' data goes to
    /// `inbox` (`\r\n+IPD,<len>:<data>` or `\r\n+RECEIVE,<n>,<len>:\r\n<data>`, no `\r\n`
    /// after it: the tests set `AT+CIPRXF=1`). Returns the text read, frames left out.
    fn pump(&mut self, needle: &str, inbox: &mut Inbox) -> String {
        let deadline = Instant::now() + WAIT;
        let mut text = Vec::new();
        loop {
            let frame = [&b"+IPD,"[..], b"+RECEIVE,"]
                .iter()
                .filter_map(|h| find(&self.seen, h).map(|p| (p, *h)))
                .min();
            let want = find(&self.seen, needle.as_bytes());
            match (frame, want) {
                (Some((p, h)), w) if w.is_none_or(|w| p < w) => {
                    if let Some((link, start, len)) = header(&self.seen[p..], h) {
                        if self.seen.len() >= p + start + len {
                            text.extend_from_slice(&self.seen[..p]);
                            let data = self.seen[p + start..p + start + len].to_vec();
                            inbox.by_link.entry(link).or_default().extend(&data);
                            inbox.frames.push((link, data));
                            self.seen.drain(..p + start + len);
                            continue;
                        }
                    }
                }
                (_, Some(w)) => {
                    let end = w + needle.len();
                    text.extend_from_slice(&self.seen[..end]);
                    self.seen.drain(..end);
                    return String::from_utf8_lossy(&text).into_owned();
                }
                _ => {}
            }
            self.fill(deadline, needle);
        }
    }

    /// A command ended by `eol`, read up to `answer`.
    fn cmd(&mut self, cmd: &str, eol: &str, answer: &str, inbox: &mut Inbox) -> String {
        self.send(format!("{cmd}{eol}").as_bytes());
        self.pump(answer, inbox)
    }

    /// `AT+CIPSEND=<args>` ended by `eol`, the data after the `> `, then `done`.
    fn cipsend(&mut self, args: &str, eol: &str, data: &[u8], done: &str, inbox: &mut Inbox) {
        let head = if args.is_empty() {
            "AT+CIPSEND".to_string()
        } else {
            format!("AT+CIPSEND={args}")
        };
        self.cmd(&head, eol, "\r\n> ", inbox);
        self.send(data);
        let got = self.pump(done, inbox);
        assert!(!got.contains("ERROR"), "{head}: {got:?}");
    }
}

/// Where a received-data frame's data starts and how long it is: `+IPD,<len>[,TCP]:` or
/// `+RECEIVE,<n>,<len>:\r\n`; `None` while the header is incomplete.
fn header(at: &[u8], h: &[u8]) -> Option<(i32, usize, usize)> {
    let colon = at.iter().position(|&b| b == b':')?;
    let fields = std::str::from_utf8(&at[h.len()..colon]).ok()?;
    let mut parts = fields.split(',');
    if h == b"+IPD," {
        let len = parts.next()?.parse().ok()?;
        Some((-1, colon + 1, len))
    } else {
        let link = parts.next()?.parse().ok()?;
        let len = parts.next()?.parse().ok()?;
        (at.len() >= colon + 3).then_some(())?;
        assert_eq!(
            &at[colon + 1..colon + 3],
            b"\r\n",
            "+RECEIVE's data is on its own line"
        );
        Some((link, colon + 3, len))
    }
}

/// `len` random bytes with every troublesome byte in them; the first is LF unless `eol` is a
/// lone CR, after which the module swallows an LF (CIPSEND.md 注意事项 6, DIVERGENCES A23).
fn binary(seed: u64, len: usize, eol: &str) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut p: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    if len > 21 {
        p[1..21].copy_from_slice(b"\r\n\0> \x1b\x1a+++OK\r\nCLOSED");
    }
    p[0] = if eol == "\r" { b'>' } else { b'\n' };
    p
}

fn sim_with(extra: &[&str]) -> (SimProcess, Port) {
    let sim = SimProcess::spawn(extra);
    let port = sim.port();
    (sim, port)
}

fn resolve(echo: &Echo) -> [String; 4] {
    [
        "--resolve".into(),
        format!("tcplab.openluat.com=127.0.0.1:{}", echo.tcp),
        "--resolve".into(),
        format!("udplab.openluat.com=127.0.0.1:{}", echo.udp),
    ]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn tcp_10kb_binary_round_trip_is_byte_identical_with_every_line_end() {
    let echo = Echo::start();
    let r = resolve(&echo);
    let (_sim, mut port) = sim_with(&args(&r));
    let mut inbox = Inbox::new();
    port.cmd("AT+CIPHEAD=1", "\r\n", "OK\r\n", &mut inbox);
    port.cmd("AT+CIPRXF=1", "\r\n", "OK\r\n", &mut inbox);
    for (i, eol) in EOLS.iter().enumerate() {
        let got = port.cmd(
            "AT+CIPSTART=\"TCP\",\"tcplab.openluat.com\",57513",
            eol,
            "CONNECT OK\r\n",
            &mut inbox,
        );
        assert!(got.contains("\r\nOK\r\n"), "{got:?}");
        // 10 kB in the manual's largest sends, each with the length form; the last piece with
        // the Ctrl-Z form (a piece without 0x1A and 0x1B in it).
        let mut sent = Vec::new();
        let mut seed = 100 * i as u64;
        while sent.len() < 10_000 - 300 {
            seed += 1;
            let piece = binary(seed, 1460.min(10_000 - 300 - sent.len()), eol);
            port.cipsend(
                &piece.len().to_string(),
                eol,
                &piece,
                "SEND OK\r\n",
                &mut inbox,
            );
            sent.extend(piece);
        }
        let tail: Vec<u8> = binary(seed + 1, 300, eol)
            .into_iter()
            .map(|b| if b == 0x1a || b == 0x1b { b'.' } else { b })
            .collect();
        let mut with_z = tail.clone();
        with_z.push(0x1a);
        port.cipsend("", eol, &with_z, "SEND OK\r\n", &mut inbox);
        sent.extend(tail);
        assert_eq!(sent.len(), 10_000);
        // Everything back from the server, in +IPD pieces of at most 1460 bytes.
        while inbox.len(-1) < sent.len() {
            port.cmd("AT", "\r\n", "OK\r\n", &mut inbox);
        }
        assert!(
            echo.wait_tcp_log(i, sent.len()) == sent,
            "the server got other bytes ({eol:?})"
        );
        assert!(inbox.take(-1) == sent, "other bytes came back ({eol:?})");
        assert!(inbox.frames.iter().all(|(_, f)| f.len() <= 1460));
        inbox.frames.clear();
        assert_eq!(
            port.cmd("AT+CIPCLOSE", eol, "CLOSE OK\r\n", &mut inbox),
            format!("AT+CIPCLOSE{eol}\r\nCLOSE OK\r\n")
        );
    }
}

#[test]
fn udp_datagrams_go_and_come_back_whole() {
    let echo = Echo::start();
    let r = resolve(&echo);
    let (_sim, mut port) = sim_with(&args(&r));
    let mut inbox = Inbox::new();
    port.cmd("AT+CIPHEAD=1", "\r\n", "OK\r\n", &mut inbox);
    port.cmd("AT+CIPRXF=1", "\r\n", "OK\r\n", &mut inbox);
    port.cmd(
        "AT+CIPSTART=\"UDP\",\"udplab.openluat.com\",6100",
        "\r\n",
        "CONNECT OK\r\n",
        &mut inbox,
    );
    let mut sent = Vec::new();
    for (i, eol) in EOLS.iter().enumerate() {
        let d = binary(7 + i as u64, 200 + 400 * i, eol);
        port.cipsend(&d.len().to_string(), eol, &d, "SEND OK\r\n", &mut inbox);
        sent.push(d);
    }
    // One datagram per +IPD: each comes back as its own piece.
    let deadline = Instant::now() + WAIT;
    while inbox.frames.len() < sent.len() {
        assert!(
            Instant::now() < deadline,
            "{} datagrams back",
            inbox.frames.len()
        );
        port.cmd("AT", "\r\n", "OK\r\n", &mut inbox);
    }
    assert_eq!(echo.udp_log(), sent, "the server got other datagrams");
    let got: Vec<Vec<u8>> = inbox.frames.iter().map(|(_, f)| f.clone()).collect();
    assert_eq!(got, sent);
    assert_eq!(
        port.cmd("AT+CIPSTATUS", "\r\n", "STATE: CONNECT OK\r\n", &mut inbox),
        "AT+CIPSTATUS\r\n\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n"
    );
}

#[test]
fn three_links_at_once_with_cipmux() {
    let echo = Echo::start();
    let r = resolve(&echo);
    let (_sim, mut port) = sim_with(&args(&r));
    let mut inbox = Inbox::new();
    for c in ["AT+CIPMUX=1", "AT+CIPRXF=1", "AT+CSTT", "AT+CIICR"] {
        port.cmd(c, "\r\n", "OK\r\n", &mut inbox);
    }
    port.cmd("AT+CIFSR", "\r\n", "\r\n10.", &mut inbox);
    port.cmd("AT", "\r\n", "OK\r\n", &mut inbox);
    let links = [
        (0, "\"TCP\",\"tcplab.openluat.com\",57513"),
        (3, "\"UDP\",\"udplab.openluat.com\",6100"),
        (5, "\"TCP\",\"tcplab.openluat.com\",57513"),
    ];
    for (n, l) in links {
        port.cmd(
            &format!("AT+CIPSTART={n},{l}"),
            "\r\n",
            &format!("{n}, CONNECT OK\r\n"),
            &mut inbox,
        );
    }
    let status = port.cmd("AT+CIPSTATUS", "\r\n", "C: 5,", &mut inbox);
    assert!(status.contains("STATE: IP PROCESSING"), "{status:?}");
    assert!(
        status.contains("C: 3,0,\"UDP\",\"udplab.openluat.com\",\"6100\",\"CONNECTED\""),
        "{status:?}"
    );
    // Interleaved sends on all three, each line end.
    let mut sent: HashMap<i32, Vec<u8>> = HashMap::new();
    for round in 0..2u64 {
        for (k, (n, _)) in links.iter().enumerate() {
            let eol = EOLS[(k + round as usize) % 3];
            let d = binary(round * 10 + k as u64, 500, eol);
            port.cipsend(
                &format!("{n},{}", d.len()),
                eol,
                &d,
                &format!("{n}, SEND OK\r\n"),
                &mut inbox,
            );
            sent.entry(*n).or_default().extend(d);
        }
    }
    let deadline = Instant::now() + WAIT;
    while links.iter().any(|(n, _)| inbox.len(*n) < 1000) {
        assert!(Instant::now() < deadline);
        port.cmd("AT", "\r\n", "OK\r\n", &mut inbox);
    }
    for (n, _) in links {
        assert!(
            inbox.by_link[&n] == sent[&n],
            "link {n} got other bytes back"
        );
    }
    // The two TCP links reached the server as two connections, in order of opening.
    assert!(echo.wait_tcp_log(0, 1000) == sent[&0]);
    assert!(echo.wait_tcp_log(1, 1000) == sent[&5]);
    assert_eq!(
        port.cmd("AT+CIPCLOSE=3", "\r\n", "3, CLOSE OK\r\n", &mut inbox),
        "AT+CIPCLOSE=3\r\n\r\n3, CLOSE OK\r\n"
    );
    port.cmd("AT+CIPSHUT", "\r\n", "SHUT OK\r\n", &mut inbox);
}

#[test]
fn transparent_mode_in_and_out_with_plus_plus_plus() {
    transparent_mode(&[]);
}

/// The same under the binary's default profile: the UART paced at 115200 baud (the `+++`
/// may reach the module in pieces) and the captures' delays.
#[test]
fn transparent_mode_under_realistic_timing() {
    transparent_mode(&["--timing", "realistic", "--seed", "1"]);
}

fn transparent_mode(extra: &[&str]) {
    let echo = Echo::start();
    let mut r = args(&resolve(&echo))
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    r.extend(extra.iter().map(|s| s.to_string()));
    let (_sim, mut port) = sim_with(&args(&r));
    let mut inbox = Inbox::new();
    port.cmd("AT+CIPMODE=1", "\r\n", "OK\r\n", &mut inbox);
    let got = port.cmd(
        "AT+CIPSTART=\"TCP\",\"tcplab.openluat.com\",57513",
        "\r\n",
        "CONNECT\r\n",
        &mut inbox,
    );
    assert!(got.ends_with("\r\nOK\r\n\r\nCONNECT\r\n"), "{got:?}");
    let mut sent = Vec::new();
    // The line end that entered the data mode: after a lone CR a first LF is not data.
    let mut last = "\r\n";
    for (i, eol) in EOLS.iter().enumerate() {
        // Data both ways, untouched: AT commands, `+++` inside data, CR, LF, NUL.
        let d = binary(40 + i as u64, 3000, last);
        port.send(&d);
        assert!(
            port.read_bytes(d.len()) == d,
            "echo in transparent mode ({eol:?})"
        );
        sent.extend(d);
        // The escape: silence, `+++`, silence: OK, and commands again.
        std::thread::sleep(GUARD);
        port.send(b"+++");
        assert_eq!(port.pump("OK\r\n", &mut inbox), "\r\nOK\r\n");
        assert_eq!(
            port.cmd("AT+CIPSTATUS", eol, "STATE: CONNECT OK\r\n", &mut inbox),
            format!("AT+CIPSTATUS{eol}\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n")
        );
        let got = port.cmd("ATO", eol, "CONNECT\r\n", &mut inbox);
        assert!(got.ends_with("\r\nCONNECT\r\n"), "{got:?}");
        last = eol;
    }
    // Data right after ATO: with `\n` last, a first LF is data (a lone CR would take it).
    let d = binary(50, 100, "\n");
    port.send(&d);
    assert!(port.read_bytes(d.len()) == d);
    sent.extend(d);
    assert!(
        echo.wait_tcp_log(0, sent.len()) == sent,
        "the server got other bytes"
    );
    std::thread::sleep(GUARD);
    port.send(b"+++");
    port.pump("OK\r\n", &mut inbox);
    assert_eq!(
        port.cmd("AT+CIPCLOSE", "\r\n", "CLOSE OK\r\n", &mut inbox),
        "AT+CIPCLOSE\r\n\r\nCLOSE OK\r\n"
    );
    assert_eq!(
        port.cmd("ATO", "\r\n", "NO CARRIER\r\n", &mut inbox),
        "ATO\r\n\r\nNO CARRIER\r\n"
    );
}

#[test]
fn closed_fault_and_peer_close_give_closed_and_sends_then_fail() {
    let echo = Echo::start();
    let dir = tempfile::tempdir().unwrap();
    let ctl: PathBuf = dir.path().join("ctl.sock");
    let mut a = resolve(&echo).to_vec();
    a.extend(["--control".into(), ctl.display().to_string()]);
    let (_sim, mut port) = sim_with(&args(&a));
    let mut inbox = Inbox::new();
    port.cmd(
        "AT+CIPSTART=\"TCP\",\"tcplab.openluat.com\",57513",
        "\r\n",
        "CONNECT OK\r\n",
        &mut inbox,
    );
    let out = inject(&ctl, &["closed"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(port.pump("CLOSED\r\n", &mut inbox), "\r\nCLOSED\r\n");
    assert_eq!(
        port.cmd("AT+CIPSEND=4", "\r\n", "ERROR: 3\r\n", &mut inbox),
        "AT+CIPSEND=4\r\n\r\n+CME ERROR: 3\r\n"
    );
    assert_eq!(
        port.cmd("AT+CIPSTATUS", "\r\n", "CLOSED\r\n", &mut inbox),
        "AT+CIPSTATUS\r\n\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n"
    );
    // The same with several links: each prints its own `<n>, CLOSED`.
    port.cmd("AT+CIPSHUT", "\r\n", "SHUT OK\r\n", &mut inbox);
    for c in ["AT+CIPMUX=1", "AT+CSTT", "AT+CIICR"] {
        port.cmd(c, "\r\n", "OK\r\n", &mut inbox);
    }
    port.cmd("AT+CIFSR", "\r\n", "\r\n10.", &mut inbox);
    for n in [1, 4] {
        port.cmd(
            &format!("AT+CIPSTART={n},\"TCP\",\"tcplab.openluat.com\",57513"),
            "\r\n",
            &format!("{n}, CONNECT OK\r\n"),
            &mut inbox,
        );
    }
    let out = inject(&ctl, &["closed"]);
    assert!(out.status.success(), "{out:?}");
    let mut urcs = port.pump("CLOSED\r\n", &mut inbox);
    urcs += &port.pump("CLOSED\r\n", &mut inbox);
    assert!(
        urcs.contains("\r\n1, CLOSED\r\n") && urcs.contains("\r\n4, CLOSED\r\n"),
        "{urcs:?}"
    );
    assert_eq!(
        port.cmd("AT+CIPSEND=4,1", "\r\n", "ERROR: 3\r\n", &mut inbox),
        "AT+CIPSEND=4,1\r\n\r\n+CME ERROR: 3\r\n"
    );
    // A real peer close (the Python server shuts connection 3 down): `<n>, CLOSED` too.
    port.cmd(
        "AT+CIPSTART=2,\"TCP\",\"tcplab.openluat.com\",57513",
        "\r\n",
        "2, CONNECT OK\r\n",
        &mut inbox,
    );
    let mut echo = echo;
    echo.close(3);
    assert_eq!(port.pump("CLOSED\r\n", &mut inbox), "\r\n2, CLOSED\r\n");
    assert_eq!(
        port.cmd("AT+CIPSEND=2,1", "\r\n", "ERROR: 3\r\n", &mut inbox),
        "AT+CIPSEND=2,1\r\n\r\n+CME ERROR: 3\r\n"
    );
}

#[test]
fn embedded_echo_service_takes_unrouted_sockets_and_direct_goes_where_named() {
    let (sim, mut port) = sim_with(&[]);
    let tcp = sim.field("tcp_echo");
    let udp = sim.field("udp_echo");
    assert!(
        tcp.starts_with("127.0.0.1:") && udp.starts_with("127.0.0.1:"),
        "{tcp} {udp}"
    );
    let mut inbox = Inbox::new();
    port.cmd("AT+CIPHEAD=1", "\r\n", "OK\r\n", &mut inbox);
    port.cmd("AT+CIPRXF=1", "\r\n", "OK\r\n", &mut inbox);
    // A vendor test server's name: nobody routed it, so the embedded echo answers.
    port.cmd(
        "AT+CIPSTART=\"TCP\",\"tcplab.openluat.com\",57513",
        "\r\n",
        "CONNECT OK\r\n",
        &mut inbox,
    );
    let d = binary(99, 1460, "\r\n");
    port.cipsend("1460", "\r\n", &d, "SEND OK\r\n", &mut inbox);
    while inbox.len(-1) < d.len() {
        port.cmd("AT", "\r\n", "OK\r\n", &mut inbox);
    }
    assert!(inbox.take(-1) == d);
    port.cmd("AT+CIPCLOSE", "\r\n", "CLOSE OK\r\n", &mut inbox);
    port.cmd(
        "AT+CIPSTART=\"UDP\",\"60.166.18.9\",6100",
        "\r\n",
        "CONNECT OK\r\n",
        &mut inbox,
    );
    port.cipsend("5", "\r", b">\x00\x1a\xff!", "SEND OK\r\n", &mut inbox);
    while inbox.len(-1) == 0 {
        port.cmd("AT", "\r\n", "OK\r\n", &mut inbox);
    }
    assert_eq!(inbox.take(-1), b">\x00\x1a\xff!");
    drop(sim);

    // --direct: the address and port in the command, here the Python server on loopback.
    let echo = Echo::start();
    let (_sim, mut port) = sim_with(&["--direct"]);
    port.cmd("AT+CIPHEAD=1", "\r\n", "OK\r\n", &mut inbox);
    port.cmd(
        &format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{}", echo.tcp),
        "\r\n",
        "CONNECT OK\r\n",
        &mut inbox,
    );
    port.cipsend("6", "\n", b"\ndirec", "SEND OK\r\n", &mut inbox);
    assert_eq!(echo.wait_tcp_log(0, 6), b"\ndirec");
}

/// A real public driver's command table, byte for byte: Aliyun's LinkSDK drives an Air724UG
/// over AT with this sequence (its `air724` AT device: `AT+CGATT=1`, `AT+CGDCONT=1,"IP","CMNET"`,
/// `AT+CIPSHUT` -> `SHUT OK`, `AT+CIPMUX=1`, `AT+CIPQSEND=1`, `AT+CSTT`, `AT+CIICR`, `AT+CIFSR`
/// -> a line with `.`, `AT+CIPSPRT=1`; `AT+CIPSTART=%d,TCP,%s,%d` -> `CONNECT OK`;
/// `AT+CIPSEND=%d,%d` -> `>`, the data -> `DATA ACCEPT`; received data framed by
/// `+RECEIVE,%d,%d:\r\n`; `AT+CIPCLOSE=%d` -> `CLOSE OK`). Each step waits for the reply the
/// driver waits for, and the data is framed the way the driver parses it.
#[test]
fn aliyun_linksdk_air724_at_sequence_runs_unmodified() {
    let echo = Echo::start();
    let r = [
        "--resolve".to_string(),
        format!(
            "a1b2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com=127.0.0.1:{}",
            echo.tcp
        ),
    ];
    let (_sim, mut port) = sim_with(&args(&r));
    let mut inbox = Inbox::new();
    for (cmd, rsp) in [
        ("AT+CGATT=1", "OK"),
        ("AT+CGDCONT=1,\"IP\",\"CMNET\"", "OK"),
        ("AT+CIPSHUT", "SHUT OK"),
        ("AT+CIPMUX=1", "OK"),
        ("AT+CIPQSEND=1", "OK"),
        ("AT+CSTT", "OK"),
        ("AT+CIICR", "OK"),
        ("AT+CIFSR", "."),
        ("AT+CIPSPRT=1", "OK"),
        (
            "AT+CIPSTART=0,TCP,a1b2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com,1883",
            "CONNECT OK",
        ),
    ] {
        let got = port.cmd(cmd, "\r\n", rsp, &mut inbox);
        assert!(!got.contains("ERROR"), "{cmd}: {got:?}");
    }
    // The driver's MQTT CONNECT, say: binary, sent with the length form.
    let d = binary(3, 200, "\r\n");
    port.cipsend("0,200", "\r\n", &d, "DATA ACCEPT", &mut inbox);
    let deadline = Instant::now() + WAIT;
    while inbox.len(0) < d.len() {
        assert!(Instant::now() < deadline);
        port.cmd("AT", "\r\n", "OK\r\n", &mut inbox);
    }
    assert!(
        inbox.take(0) == d,
        "the echo came back framed by +RECEIVE,0,200:"
    );
    assert!(echo.wait_tcp_log(0, d.len()) == d);
    let got = port.cmd("AT+CIPCLOSE=0", "\r\n", "CLOSE OK", &mut inbox);
    assert!(got.ends_with("\r\n0, CLOSE OK"), "{got:?}");
}

/// In a fleet, every modem's unrouted sockets reach modem 0's echo service (as they share its
/// broker).
#[test]
fn fleet_modems_share_the_echo_service() {
    let sim = SimProcess::spawn(&["--count", "2"]);
    let tty = sim.ready["ttys"][1].as_str().unwrap().to_string();
    let mut port = Port::open(Path::new(&tty)).booted();
    let mut inbox = Inbox::new();
    port.cmd("AT+CIPHEAD=1", "\r\n", "OK\r\n", &mut inbox);
    port.cmd(
        "AT+CIPSTART=\"TCP\",\"fleet.example\",7",
        "\r\n",
        "CONNECT OK\r\n",
        &mut inbox,
    );
    port.cipsend("4", "\r\n", b"ping", "SEND OK\r\n", &mut inbox);
    while inbox.len(-1) < 4 {
        port.cmd("AT", "\r\n", "OK\r\n", &mut inbox);
    }
    assert_eq!(inbox.take(-1), b"ping");
}
