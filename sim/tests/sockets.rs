//! Issue 16's Air780E sockets through the real binary and its PTY, against a real Python
//! `socket` echo server (`support/echo_server.py`, which also logs what it received): a 10 kB
//! binary round trip byte for byte, UDP datagrams, three links at once with `AT+CIPMUX=1`, the
//! transparent mode in and out with `+++` and `ATO`, `AT+CIPACK`'s counts, the `closed` fault
//! and a peer close, the embedded echo service, `--direct`, and `AT+CDNSGIP` then
//! `AT+CIPSTART` to the address it answers. Every prompt is sent with
//! `\r\n`, `\r` and `\n`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{binary_with, find, Echo, Port, SimProcess, EOLS, WAIT};

/// The transparent mode's escape guard (1 s of silence before `+++`) plus a margin: the module
/// requires this silence, so the host must keep it (a slower machine only waits longer). The
/// 0.8 s margin covers a loaded CI machine reading the last byte or firing the timer late.
const GUARD: Duration = Duration::from_millis(1800);

/// The vendor's TCP and UDP test servers, as the commands name them.
const TCPLAB: &str = "\"tcplab.openluat.com\",57513";
const UDPLAB: &str = "\"udplab.openluat.com\",6100";

/// Received data, by link (`-1`: the single link's `+IPD`), and each frame as it came.
#[derive(Default)]
struct Inbox {
    by_link: HashMap<i32, Vec<u8>>,
    frames: Vec<(i32, Vec<u8>)>,
}

impl Inbox {
    fn len(&self, link: i32) -> usize {
        self.by_link.get(&link).map_or(0, Vec::len)
    }

    fn take(&mut self, link: i32) -> Vec<u8> {
        self.by_link.remove(&link).unwrap_or_default()
    }
}

/// The host side of a simulator: its port, and the data received on it.
struct Modem {
    port: Port,
    inbox: Inbox,
    sim: SimProcess,
}

impl Modem {
    fn start(extra: &[&str]) -> Modem {
        let sim = SimProcess::spawn(extra);
        Modem::on(sim.port(), sim)
    }

    fn on(port: Port, sim: SimProcess) -> Modem {
        let inbox = Inbox::default();
        Modem { port, inbox, sim }
    }

    /// With `tcplab.openluat.com` and `udplab.openluat.com` routed to `echo`, and `extra`.
    fn routed(echo: &Echo, extra: &[&str]) -> Modem {
        let tcp = format!("tcplab.openluat.com=127.0.0.1:{}", echo.tcp);
        let udp = format!("udplab.openluat.com=127.0.0.1:{}", echo.udp);
        Modem::start(&[&["--resolve", &tcp, "--resolve", &udp], extra].concat())
    }

    /// Reads until `needle` appears outside received-data frames; the frames' data goes to
    /// the inbox (`\r\n+IPD,<len>:<data>` or `\r\n+RECEIVE,<n>,<len>:\r\n<data>`, no `\r\n`
    /// after it: the tests set `AT+CIPRXF=1`). Returns the text read, frames left out.
    fn pump(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut text = Vec::new();
        loop {
            let seen = &mut self.port.seen;
            let frame = [&b"+IPD,"[..], b"+RECEIVE,"]
                .iter()
                .filter_map(|h| find(seen, h).map(|p| (p, *h)))
                .min();
            let want = find(seen, needle.as_bytes());
            match (frame, want) {
                (Some((p, h)), w) if w.is_none_or(|w| p < w) => {
                    if let Some((link, start, len)) = header(&seen[p..], h) {
                        if seen.len() >= p + start + len {
                            text.extend_from_slice(&seen[..p]);
                            let data = seen[p + start..p + start + len].to_vec();
                            self.inbox.by_link.entry(link).or_default().extend(&data);
                            self.inbox.frames.push((link, data));
                            seen.drain(..p + start + len);
                            continue;
                        }
                    }
                }
                (_, Some(w)) => {
                    let end = w + needle.len();
                    text.extend_from_slice(&seen[..end]);
                    seen.drain(..end);
                    return String::from_utf8_lossy(&text).into_owned();
                }
                _ => {}
            }
            self.port.fill(deadline, needle);
        }
    }

    /// A command ended by `eol`, read up to `answer`.
    fn cmd(&mut self, cmd: &str, eol: &str, answer: &str) -> String {
        self.port.send(format!("{cmd}{eol}").as_bytes());
        self.pump(answer)
    }

    /// Received data framed as `pump` reads it: `AT+CIPHEAD=1` and `AT+CIPRXF=1` (no `\r\n`
    /// after the data).
    fn framed(&mut self) {
        self.crlf("AT+CIPHEAD=1", "OK\r\n");
        self.crlf("AT+CIPRXF=1", "OK\r\n");
    }

    /// A command ended by CR LF, read up to `answer`.
    fn crlf(&mut self, cmd: &str, answer: &str) -> String {
        self.cmd(cmd, "\r\n", answer)
    }

    /// `cmd` answered `OK`, and then `answer`: it contains `rest` (`""`: anything).
    fn ok_then(&mut self, cmd: &str, eol: &str, answer: &str, rest: &str) {
        let got = self.cmd(cmd, eol, answer);
        assert!(got.contains("\r\nOK\r\n") && got.contains(rest), "{got:?}");
    }

    /// `AT+CIPSEND=<args>` ended by `eol`, the data after the `> `, then `done`.
    fn cipsend(&mut self, args: &str, eol: &str, data: &[u8], done: &str) {
        let head = if args.is_empty() {
            "AT+CIPSEND".to_string()
        } else {
            format!("AT+CIPSEND={args}")
        };
        self.cmd(&head, eol, "\r\n> ");
        self.send_data(data, done, &head);
    }

    /// `data`, then up to `done`, which nothing like an error comes before.
    fn send_data(&mut self, data: &[u8], done: &str, what: &str) {
        self.port.send(data);
        let got = self.pump(done);
        assert!(!got.contains("ERROR"), "{what}: {got:?}");
    }

    /// `AT` until `n` bytes came on `link`; returns them.
    fn received(&mut self, link: i32, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        while self.inbox.len(link) < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} bytes",
                self.inbox.len(link)
            );
            self.crlf("AT", "OK\r\n");
        }
        self.inbox.take(link)
    }

    /// The answer to `cmd` ended by `eol` is its echo, then `answer` alone.
    fn answers(&mut self, cmd: &str, eol: &str, answer: &str) {
        let got = self.cmd(cmd, eol, answer);
        assert_eq!(got, format!("{cmd}{eol}{answer}"));
    }

    /// The transparent mode's escape: silence, `+++`, silence: `OK`.
    fn escape(&mut self) -> String {
        std::thread::sleep(GUARD);
        self.port.send(b"+++");
        self.pump("OK\r\n")
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
    binary_with(seed, len, eol, b"\r\n\0> \x1b\x1a+++OK\r\nCLOSED")
}

#[test]
fn tcp_10kb_binary_round_trip_is_byte_identical_with_every_line_end() {
    each_eol_on_a_tcp_link(|m, echo, i, eol| {
        // 10 kB in the manual's largest sends, each with the length form; the last piece with
        // the Ctrl-Z form (a piece without 0x1A and 0x1B in it).
        let mut sent = Vec::new();
        let mut seed = 100 * i as u64;
        while sent.len() < 10_000 - 300 {
            seed += 1;
            let piece = binary(seed, 1460.min(10_000 - 300 - sent.len()), eol);
            m.cipsend(&piece.len().to_string(), eol, &piece, "SEND OK\r\n");
            sent.extend(piece);
        }
        let tail: Vec<u8> = binary(seed + 1, 300, eol)
            .into_iter()
            .map(|b| if b == 0x1a || b == 0x1b { b'.' } else { b })
            .collect();
        let mut with_z = tail.clone();
        with_z.push(0x1a);
        m.cipsend("", eol, &with_z, "SEND OK\r\n");
        sent.extend(tail);
        assert_eq!(sent.len(), 10_000);
        // Everything back from the server, in +IPD pieces of at most 1460 bytes.
        let back = m.received(-1, sent.len());
        let logged = echo.wait_tcp_log(i, sent.len());
        assert!(logged == sent, "the server got other bytes ({eol:?})");
        assert!(back == sent, "other bytes came back ({eol:?})");
        assert!(m.inbox.frames.iter().all(|(_, f)| f.len() <= 1460));
        m.inbox.frames.clear();
    });
}

/// CIPACK.md: a link's `+CIPACK: <txlen>,<acklen>,<nacklen>` starts at 0 and counts each
/// binary `AT+CIPSEND`; once `SEND OK` came the simulator has written every byte to the kernel,
/// so all are acknowledged (DIVERGENCES S12). Every command with each line end.
#[test]
fn cipack_counts_binary_sends_with_every_line_end() {
    each_eol_on_a_tcp_link(|m, echo, i, eol| {
        m.answers("AT+CIPACK", eol, "\r\n+CIPACK: 0,0,0\r\n\r\nOK\r\n");
        let mut sent = Vec::new();
        for (k, len) in [1460, 37].into_iter().enumerate() {
            let d = binary(50 + 10 * i as u64 + k as u64, len, eol);
            m.cipsend(&len.to_string(), eol, &d, "SEND OK\r\n");
            // The echo first, so no `+IPD` comes between the command and its answer.
            assert!(m.received(-1, len) == d, "other bytes came back ({eol:?})");
            sent.extend(d);
            let n = sent.len();
            let want = format!("\r\n+CIPACK: {n},{n},0\r\n\r\nOK\r\n");
            m.answers("AT+CIPACK", eol, &want);
        }
        let logged = echo.wait_tcp_log(i, sent.len());
        assert!(logged == sent, "the server got other bytes ({eol:?})");
    });
}

/// `AT+CDNSGIP` of a `--resolve`d name answers the address it was routed to (CDNSGIP.md's `OK`
/// then `+CDNSGIP: 1,...`, the captures' quotes: DIVERGENCES S14); a driver that then connects
/// to that address (read from the answer's third field, as drivers do) and the `--resolve`d
/// port reaches the Python server, not the embedded echo. A name nobody routed answers the echo
/// service's address. Every command with each line end.
#[test]
fn cdnsgip_answers_the_resolved_address_and_cipstart_to_it_reaches_the_server() {
    let echo = Echo::start();
    let mut m = Modem::routed(&echo, &[]);
    m.framed();
    let echo_host = m.sim.field("tcp_echo");
    let echo_host = echo_host.rsplit_once(':').unwrap().0;
    for (i, (_, eol)) in EOLS.iter().enumerate() {
        let q = "AT+CDNSGIP=\"nowhere.example\"";
        let want = format!("\r\nOK\r\n\r\n+CDNSGIP: 1,\"nowhere.example\",\"{echo_host}\"\r\n");
        m.answers(q, eol, &want);
        let q = "AT+CDNSGIP=\"tcplab.openluat.com\"";
        let got = m.cmd(q, eol, "+CDNSGIP: ") + &m.pump("\r\n");
        let want = "\r\nOK\r\n\r\n+CDNSGIP: 1,\"tcplab.openluat.com\",\"127.0.0.1\"\r\n";
        assert_eq!(got, format!("{q}{eol}{want}"));
        let ip = got.split('"').nth(5).unwrap();
        let start = format!("AT+CIPSTART=\"TCP\",\"{ip}\",{}", echo.tcp);
        m.ok_then(&start, eol, "CONNECT OK\r\n", "");
        let d = binary(70 + i as u64, 300, eol);
        m.cipsend("300", eol, &d, "SEND OK\r\n");
        assert!(
            m.received(-1, d.len()) == d,
            "other bytes came back ({eol:?})"
        );
        let logged = echo.wait_tcp_log(i, d.len());
        assert!(logged == d, "the Python server got other bytes ({eol:?})");
        m.answers("AT+CIPCLOSE", eol, "\r\nCLOSE OK\r\n");
    }
}

/// A framed modem routed to a fresh echo server; for each line end a TCP link is started,
/// `body` runs on it (`i`: the link's connection number at the server), and the link is
/// closed, every command with that line end.
fn each_eol_on_a_tcp_link(mut body: impl FnMut(&mut Modem, &Echo, usize, &str)) {
    let echo = Echo::start();
    let mut m = Modem::routed(&echo, &[]);
    m.framed();
    for (i, (_, eol)) in EOLS.iter().enumerate() {
        let start = format!("AT+CIPSTART=\"TCP\",{TCPLAB}");
        m.ok_then(&start, eol, "CONNECT OK\r\n", "");
        body(&mut m, &echo, i, eol);
        m.answers("AT+CIPCLOSE", eol, "\r\nCLOSE OK\r\n");
    }
}

#[test]
fn udp_datagrams_go_and_come_back_whole() {
    let echo = Echo::start();
    let mut m = Modem::routed(&echo, &[]);
    m.framed();
    m.crlf(&format!("AT+CIPSTART=\"UDP\",{UDPLAB}"), "CONNECT OK\r\n");
    let mut sent = Vec::new();
    for (i, (_, eol)) in EOLS.iter().enumerate() {
        let d = binary(7 + i as u64, 200 + 400 * i, eol);
        m.cipsend(&d.len().to_string(), eol, &d, "SEND OK\r\n");
        sent.push(d);
    }
    // One datagram per +IPD: each comes back as its own piece.
    let deadline = Instant::now() + WAIT;
    while m.inbox.frames.len() < sent.len() {
        let frames = m.inbox.frames.len();
        assert!(Instant::now() < deadline, "{frames} datagrams back");
        m.crlf("AT", "OK\r\n");
    }
    assert_eq!(echo.udp_log(), sent, "the server got other datagrams");
    let got: Vec<Vec<u8>> = m.inbox.frames.iter().map(|(_, f)| f.clone()).collect();
    assert_eq!(got, sent);
    m.answers(
        "AT+CIPSTATUS",
        "\r\n",
        "\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n",
    );
}

#[test]
fn three_links_at_once_with_cipmux() {
    let echo = Echo::start();
    let mut m = Modem::routed(&echo, &[]);
    for c in ["AT+CIPMUX=1", "AT+CIPRXF=1", "AT+CSTT", "AT+CIICR"] {
        m.crlf(c, "OK\r\n");
    }
    m.crlf("AT+CIFSR", "\r\n10.");
    m.crlf("AT", "OK\r\n");
    let links = [
        (0, format!("\"TCP\",{TCPLAB}")),
        (3, format!("\"UDP\",{UDPLAB}")),
        (5, format!("\"TCP\",{TCPLAB}")),
    ];
    for (n, l) in &links {
        m.crlf(
            &format!("AT+CIPSTART={n},{l}"),
            &format!("{n}, CONNECT OK\r\n"),
        );
    }
    let status = m.crlf("AT+CIPSTATUS", "C: 5,");
    assert!(status.contains("STATE: IP PROCESSING"), "{status:?}");
    let udp = "C: 3,0,\"UDP\",\"udplab.openluat.com\",\"6100\",\"CONNECTED\"";
    assert!(status.contains(udp), "{status:?}");
    // Interleaved sends on all three, each line end.
    let mut sent: HashMap<i32, Vec<u8>> = HashMap::new();
    for round in 0..2u64 {
        for (k, (n, _)) in links.iter().enumerate() {
            let eol = EOLS[(k + round as usize) % 3].1;
            let d = binary(round * 10 + k as u64, 500, eol);
            let done = format!("{n}, SEND OK\r\n");
            m.cipsend(&format!("{n},{}", d.len()), eol, &d, &done);
            sent.entry(*n).or_default().extend(d);
        }
    }
    let deadline = Instant::now() + WAIT;
    while links.iter().any(|(n, _)| m.inbox.len(*n) < 1000) {
        assert!(Instant::now() < deadline);
        m.crlf("AT", "OK\r\n");
    }
    for (n, _) in &links {
        let back = &m.inbox.by_link[n];
        assert!(back == &sent[n], "link {n} got other bytes back");
    }
    // The two TCP links reached the server as two connections, in order of opening.
    assert!(echo.wait_tcp_log(0, 1000) == sent[&0]);
    assert!(echo.wait_tcp_log(1, 1000) == sent[&5]);
    m.answers("AT+CIPCLOSE=3", "\r\n", "\r\n3, CLOSE OK\r\n");
    m.crlf("AT+CIPSHUT", "SHUT OK\r\n");
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
    let mut m = Modem::routed(&echo, extra);
    m.crlf("AT+CIPMODE=1", "OK\r\n");
    let got = m.crlf(&format!("AT+CIPSTART=\"TCP\",{TCPLAB}"), "CONNECT\r\n");
    assert!(got.ends_with("\r\nOK\r\n\r\nCONNECT\r\n"), "{got:?}");
    let mut sent = Vec::new();
    // The line end that entered the data mode: after a lone CR a first LF is not data.
    let mut last = "\r\n";
    for (i, (_, eol)) in EOLS.iter().enumerate() {
        // Data both ways, untouched: AT commands, `+++` inside data, CR, LF, NUL.
        let d = binary(40 + i as u64, 3000, last);
        m.port.send(&d);
        let back = m.port.read_bytes(d.len());
        assert!(back == d, "echo in transparent mode ({eol:?})");
        sent.extend(d);
        // The escape: silence, `+++`, silence: OK, and commands again.
        assert_eq!(m.escape(), "\r\nOK\r\n");
        m.answers("AT+CIPSTATUS", eol, "\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n");
        let got = m.cmd("ATO", eol, "CONNECT\r\n");
        assert!(got.ends_with("\r\nCONNECT\r\n"), "{got:?}");
        last = eol;
    }
    // Data right after ATO: with `\n` last, a first LF is data (a lone CR would take it).
    let d = binary(50, 100, "\n");
    m.port.send(&d);
    assert!(m.port.read_bytes(d.len()) == d);
    sent.extend(d);
    let logged = echo.wait_tcp_log(0, sent.len());
    assert!(logged == sent, "the server got other bytes");
    m.escape();
    m.answers("AT+CIPCLOSE", "\r\n", "\r\nCLOSE OK\r\n");
    m.answers("ATO", "\r\n", "\r\nNO CARRIER\r\n");
}

#[test]
fn closed_fault_and_peer_close_give_closed_and_sends_then_fail() {
    let mut echo = Echo::start();
    let tcp = format!("tcplab.openluat.com=127.0.0.1:{}", echo.tcp);
    let sim = SimProcess::with_control(&["--resolve", &tcp]);
    let mut m = Modem::on(sim.port(), sim);
    m.crlf(&format!("AT+CIPSTART=\"TCP\",{TCPLAB}"), "CONNECT OK\r\n");
    m.sim.fault(&["closed"]);
    assert_eq!(m.pump("CLOSED\r\n"), "\r\nCLOSED\r\n");
    m.answers("AT+CIPSEND=4", "\r\n", "\r\n+CME ERROR: 3\r\n");
    m.answers(
        "AT+CIPSTATUS",
        "\r\n",
        "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n",
    );
    // The same with several links: each prints its own `<n>, CLOSED`.
    m.crlf("AT+CIPSHUT", "SHUT OK\r\n");
    for c in ["AT+CIPMUX=1", "AT+CSTT", "AT+CIICR"] {
        m.crlf(c, "OK\r\n");
    }
    m.crlf("AT+CIFSR", "\r\n10.");
    for n in [1, 4] {
        m.crlf(
            &format!("AT+CIPSTART={n},\"TCP\",{TCPLAB}"),
            &format!("{n}, CONNECT OK\r\n"),
        );
    }
    m.sim.fault(&["closed"]);
    let urcs = m.pump("CLOSED\r\n") + &m.pump("CLOSED\r\n");
    let both = urcs.contains("\r\n1, CLOSED\r\n") && urcs.contains("\r\n4, CLOSED\r\n");
    assert!(both, "{urcs:?}");
    m.answers("AT+CIPSEND=4,1", "\r\n", "\r\n+CME ERROR: 3\r\n");
    // A real peer close (the Python server shuts connection 3 down): `<n>, CLOSED` too.
    m.crlf(
        &format!("AT+CIPSTART=2,\"TCP\",{TCPLAB}"),
        "2, CONNECT OK\r\n",
    );
    echo.close(3);
    assert_eq!(m.pump("CLOSED\r\n"), "\r\n2, CLOSED\r\n");
    m.answers("AT+CIPSEND=2,1", "\r\n", "\r\n+CME ERROR: 3\r\n");
}

#[test]
fn embedded_echo_service_takes_unrouted_sockets_and_direct_goes_where_named() {
    let mut m = Modem::start(&[]);
    let tcp = m.sim.field("tcp_echo");
    let udp = m.sim.field("udp_echo");
    let both = tcp.starts_with("127.0.0.1:") && udp.starts_with("127.0.0.1:");
    assert!(both, "{tcp} {udp}");
    m.framed();
    // A vendor test server's name: nobody routed it, so the embedded echo answers.
    m.crlf(&format!("AT+CIPSTART=\"TCP\",{TCPLAB}"), "CONNECT OK\r\n");
    let d = binary(99, 1460, "\r\n");
    m.cipsend("1460", "\r\n", &d, "SEND OK\r\n");
    assert!(m.received(-1, d.len()) == d);
    m.crlf("AT+CIPCLOSE", "CLOSE OK\r\n");
    m.crlf("AT+CIPSTART=\"UDP\",\"60.166.18.9\",6100", "CONNECT OK\r\n");
    m.cipsend("5", "\r", b">\x00\x1a\xff!", "SEND OK\r\n");
    assert_eq!(m.received(-1, 1), b">\x00\x1a\xff!");
    let inbox = std::mem::take(&mut m.inbox);
    drop(m);

    // --direct: the address and port in the command, here the Python server on loopback.
    let echo = Echo::start();
    let mut m = Modem::start(&["--direct"]);
    m.inbox = inbox;
    m.crlf("AT+CIPHEAD=1", "OK\r\n");
    let start = format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{}", echo.tcp);
    m.crlf(&start, "CONNECT OK\r\n");
    m.cipsend("6", "\n", b"\ndirec", "SEND OK\r\n");
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
    let host = "a1b2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com";
    let mut m = Modem::start(&["--resolve", &format!("{host}=127.0.0.1:{}", echo.tcp)]);
    // The driver's table: each command, then the reply it waits for.
    let start = format!("AT+CIPSTART=0,TCP,{host},1883");
    let table = [
        "AT+CGATT=1",
        "AT+CGDCONT=1,\"IP\",\"CMNET\"",
        "AT+CIPSHUT|SHUT OK",
        "AT+CIPMUX=1",
        "AT+CIPQSEND=1",
        "AT+CSTT",
        "AT+CIICR",
        "AT+CIFSR|.",
        "AT+CIPSPRT=1",
        &format!("{start}|CONNECT OK"),
    ];
    for step in table {
        let (cmd, rsp) = step.split_once('|').unwrap_or((step, "OK"));
        let got = m.crlf(cmd, rsp);
        assert!(!got.contains("ERROR"), "{cmd}: {got:?}");
    }
    // The driver's MQTT CONNECT, say: binary, sent with the length form.
    let d = binary(3, 200, "\r\n");
    m.cipsend("0,200", "\r\n", &d, "DATA ACCEPT");
    let back = m.received(0, d.len());
    assert!(back == d, "the echo came back framed by +RECEIVE,0,200:");
    assert!(echo.wait_tcp_log(0, d.len()) == d);
    let got = m.crlf("AT+CIPCLOSE=0", "CLOSE OK");
    assert!(got.ends_with("\r\n0, CLOSE OK"), "{got:?}");
}

/// In a fleet, every modem's unrouted sockets reach modem 0's echo service (as they share its
/// broker).
#[test]
fn fleet_modems_share_the_echo_service() {
    let sim = SimProcess::spawn(&["--count", "2"]);
    let port = Port::open(std::path::Path::new(&sim.ttys()[1])).booted();
    let mut m = Modem::on(port, sim);
    m.crlf("AT+CIPHEAD=1", "OK\r\n");
    m.crlf("AT+CIPSTART=\"TCP\",\"fleet.example\",7", "CONNECT OK\r\n");
    m.cipsend("4", "\r\n", b"ping", "SEND OK\r\n");
    assert_eq!(m.received(-1, 4), b"ping");
}

/// `AT+CIPSSL=1` (CIPSSL.md; 使用方法举例.md TCP非透传应用3): the CA written over the PTY with
/// `AT+FSWRITE`, named for context 0 with `AT+SSLCFG`; the TLS handshake with a real Python
/// `ssl` server verifies it. Without a CA to check the server against, `CONNECT FAIL`.
#[test]
fn tls_socket_with_the_ca_loaded_over_at() {
    let echo = Echo::start();
    let mut m = Modem::start(&["--resolve", &format!("localhost=127.0.0.1:{}", echo.tls)]);
    for c in [
        "AT+CIPHEAD=1",
        "AT+CIPSSL=1",
        "AT+SSLCFG=\"seclevel\",0,1",
        "AT+SSLCFG=\"ciphersuite\",0,0X0035",
    ] {
        m.crlf(c, "OK\r\n");
    }
    let start = "AT+CIPSTART=\"TCP\",\"localhost\",57513";
    m.ok_then(start, "\r\n", "CONNECT FAIL\r\n", "");
    let ca = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../certs/ca.crt")).unwrap();
    m.crlf("AT+FSCREATE=\"ca.crt\"", "OK\r\n");
    m.crlf(&format!("AT+FSWRITE=\"ca.crt\",0,{},15", ca.len()), ">");
    m.send_data(&ca, "OK\r\n", "AT+FSWRITE");
    m.crlf("AT+SSLCFG=\"cacert\",0,\"ca.crt\"", "OK\r\n");
    m.crlf(start, "CONNECT OK\r\n");
    let d = binary(77, 1000, "\r\n");
    m.cipsend("1000", "\r\n", &d, "SEND OK\r\n");
    let back = m.received(-1, d.len());
    assert!(back == d, "other bytes came back over TLS");
    let log = std::fs::read(echo.dir.path().join("tls-0")).unwrap_or_default();
    let (got, want) = (log.len(), d.len());
    assert!(log == d, "the TLS server got other bytes ({got} of {want})");
}
