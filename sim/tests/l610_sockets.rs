//! The L610's MIP* sockets through the real binary and its PTY, against a real Python `socket`
//! echo server (TCP and UDP) on loopback, the way drivers talk: `AT+MIPSEND=<id>,<len>` with
//! CR LF, CR and LF line ends, binary payloads checked byte for byte, several sockets at once,
//! and the `closed` fault injected with the real `modem-sim inject` CLI.

use std::time::Instant;

#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
use process::{find, Echo, Port, SimProcess, EOLS, WAIT};

/// The simulator as an L610 whose `tcp.test` and `udp.test` are the Python echo server, with
/// `extra`; the host side after the data call.
fn l610(echo: &Echo, extra: &[&str]) -> (SimProcess, Host) {
    let tcp = format!("tcp.test=127.0.0.1:{}", echo.tcp);
    let udp = format!("udp.test=127.0.0.1:{}", echo.udp);
    let args = [
        &["--dialect", "l610", "--resolve", &tcp, "--resolve", &udp],
        extra,
    ]
    .concat();
    let sim = SimProcess::with_control(&args);
    let mut h = Host::new(sim.port());
    h.call();
    (sim, h)
}

/// The host side: the port, with the module's output parsed into lines (echo included) and
/// `+MIPRTCP` data (IPRFMT 2: `+MIPRTCP: <id>,<len>,<raw bytes>\r\n`) per socket.
struct Host {
    port: Port,
    /// `AT+GTSET="IPRFMT",2` is on: data comes raw after `+MIPRTCP: <id>,<len>,`; otherwise
    /// data lines are hex, and lines like any other.
    framed: bool,
    lines: std::collections::VecDeque<String>,
    data: [Vec<u8>; 7],
}

impl Host {
    fn new(port: Port) -> Host {
        Host {
            port,
            framed: false,
            lines: Default::default(),
            data: Default::default(),
        }
    }

    /// Moves what is complete in the port's buffer into lines and data.
    fn parse(&mut self) {
        loop {
            let seen = &mut self.port.seen;
            let skip = seen
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            seen.drain(..skip);
            if seen.starts_with(b">") {
                seen.drain(..1);
                self.lines.push_back(">".into());
                continue;
            }
            if self.framed
                && seen.starts_with(b"+MIPRTCP: ")
                && seen.get(10).is_some_and(|b| b.is_ascii_digit())
            {
                let rest = &seen[10..];
                let Some(c1) = rest.iter().position(|&b| b == b',') else {
                    return;
                };
                let id: usize = std::str::from_utf8(&rest[..c1]).unwrap().parse().unwrap();
                let Some(c2) = rest[c1 + 1..].iter().position(|&b| b == b',') else {
                    return;
                };
                let len: usize = std::str::from_utf8(&rest[c1 + 1..c1 + 1 + c2])
                    .unwrap()
                    .parse()
                    .unwrap();
                let start = 10 + c1 + 1 + c2 + 1;
                if seen.len() < start + len + 2 {
                    return;
                }
                assert_eq!(
                    &seen[start + len..start + len + 2],
                    b"\r\n",
                    "after the data"
                );
                self.data[id].extend_from_slice(&seen[start..start + len]);
                seen.drain(..start + len + 2);
                continue;
            }
            let Some(end) = find(seen, b"\r\n") else {
                return;
            };
            let line: Vec<u8> = seen.drain(..end + 2).collect();
            let line = String::from_utf8_lossy(&line).trim().to_string();
            if !line.is_empty() {
                self.lines.push_back(line);
            }
        }
    }

    fn fill(&mut self, deadline: Instant, what: &str) {
        let lines = &self.lines;
        self.port
            .fill(deadline, &format!("{what}; lines {lines:?}"));
        self.parse();
    }

    /// Waits for a line that `want` accepts; returns the lines up to it (it included).
    fn until(&mut self, want: impl Fn(&str) -> bool, what: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            self.parse();
            if let Some(i) = self.lines.iter().position(|l| want(l)) {
                return self.lines.drain(..=i).collect();
            }
            self.fill(deadline, what);
        }
    }

    fn until_line(&mut self, line: &str) -> Vec<String> {
        self.until(|l| l == line, line)
    }

    /// Sends `cmd` ended by `eol`; returns the lines up to its final result.
    fn at(&mut self, cmd: &str, eol: &str) -> Vec<String> {
        self.port.send(format!("{cmd}{eol}").as_bytes());
        self.until(
            |l| l == "OK" || l == "ERROR" || l == ">" || l.starts_with("+CME ERROR"),
            cmd,
        )
    }

    /// Waits until `n` bytes came on socket `id`; returns them.
    fn received(&mut self, id: usize, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        while self.data[id].len() < n {
            self.fill(deadline, &format!("{n} bytes on socket {id}"));
        }
        std::mem::take(&mut self.data[id])
    }

    /// `AT+MIPSEND=<id>,<len>` ended by `eol`, the prompt, the bytes, the module's
    /// `+MIPSEND: <id>,0,...` and `OK`, then `+MIPPUSH: <id>,0`.
    fn mipsend(&mut self, id: u32, data: &[u8], eol: &str) {
        let got = self.at(&format!("AT+MIPSEND={id},{}", data.len()), eol);
        assert_eq!(got.last().map(String::as_str), Some(">"), "{got:?}");
        self.port.send(data);
        let got = self.until_line(&format!("+MIPPUSH: {id},0"));
        let sent = format!("+MIPSEND: {id},0,");
        assert!(got.iter().any(|l| l.starts_with(&sent)), "{got:?}");
        assert!(got.iter().any(|l| l == "OK"), "{got:?}");
    }

    fn call(&mut self) {
        let got = self.at("AT+MIPCALL=1", "\r\n");
        assert_eq!(got.last().map(String::as_str), Some("OK"));
        self.until(|l| l.starts_with("+MIPCALL: "), "+MIPCALL: <ip>");
    }

    fn open(&mut self, id: u32, host: &str, proto: u32, eol: &str) {
        let got = self.at(&format!("AT+MIPOPEN={id},,\"{host}\",7,{proto}"), eol);
        assert_eq!(got.last().map(String::as_str), Some("OK"), "{got:?}");
        self.until_line(&format!("+MIPOPEN: {id},1"));
    }
}

/// Random bytes with every troublesome value: line ends, NUL, `>`, ESC, Ctrl-Z, `OK\r\n`.
/// No 2048-byte send starts with LF: after a command ended by a lone CR the module takes a
/// first LF as that line end's (DIVERGENCES A23), so a driver with CR line ends must not
/// start a send with one, here as on the module.
fn binary(seed: u64, len: usize) -> Vec<u8> {
    // Its first byte is `>`, as after a lone CR.
    let mut p = process::binary(seed, len, "\r");
    for start in (0..len).step_by(2048) {
        if p[start] == b'\n' {
            p[start] = b'>';
        }
    }
    p
}

#[test]
fn tcp_round_trip_of_10_kb_binary_is_byte_identical_with_every_line_end() {
    let echo = Echo::start();
    for (i, (_, eol)) in EOLS.iter().enumerate() {
        let (_sim, mut h) = l610(&echo, &[]);
        assert_eq!(h.at("AT+GTSET=\"IPRFMT\",2", eol).last().unwrap(), "OK");
        h.framed = true;
        h.open(1, "tcp.test", 0, eol);
        let data = binary(i as u64, 10 * 1024);
        // As the public L610 drivers do: at most 2048 bytes per AT+MIPSEND.
        for chunk in data.chunks(2048) {
            h.mipsend(1, chunk, eol);
        }
        let back = h.received(1, data.len());
        assert_eq!(back.len(), data.len(), "eol {eol:?}");
        assert!(back == data, "eol {eol:?}: the echo differs");
        assert_eq!(h.at("AT+MIPCLOSE=1", eol).last().unwrap(), "OK");
        h.until_line("+MIPCLOSE: 1,0");
        assert_eq!(h.at("AT", eol).last().unwrap(), "OK");
    }
}

#[test]
fn udp_datagrams_come_back_from_the_python_server() {
    let echo = Echo::start();
    let (_sim, mut h) = l610(&echo, &[]);
    h.open(2, "udp.test", 1, "\r\n");
    for (n, (_, eol)) in EOLS.iter().enumerate() {
        let datagram = format!("datagram {n}: \x00\x01,\"\r\n");
        h.mipsend(2, datagram.as_bytes(), eol);
        // IPRFMT 0 (the default): hex, from the server's address.
        let hex: String = datagram.bytes().map(|b| format!("{b:02X}")).collect();
        let (port, len) = (echo.udp, datagram.len());
        h.until_line(&format!("+MIPRUDP: 127.0.0.1,{port},2,{len},{hex}"));
    }
}

/// `AT+<query>?` lists `want` (`+MIPCLOSE: 1,2,3`: the open sockets; `+MIPOPEN: 4,5,6`: the
/// free ones).
fn lists(h: &mut Host, query: &str, want: &str) {
    let got = h.at(query, "\r\n");
    assert!(got.iter().any(|l| l == want), "{query}: {got:?}");
}

#[test]
fn three_sockets_at_once_each_get_their_own_echo() {
    let echo = Echo::start();
    let (_sim, mut h) = l610(&echo, &[]);
    h.at("AT+GTSET=\"IPRFMT\",2", "\r\n");
    h.framed = true;
    for id in 1..=3 {
        h.open(id, "tcp.test", 0, "\r\n");
    }
    lists(&mut h, "AT+MIPCLOSE?", "+MIPCLOSE: 1,2,3");
    for round in 0..3u64 {
        let sent: Vec<Vec<u8>> = (1..=3u32)
            .map(|id| binary(100 + round * 10 + u64::from(id), 300 + id as usize))
            .collect();
        for id in 1..=3u32 {
            h.mipsend(id, &sent[id as usize - 1], "\r\n");
        }
        for id in 1..=3usize {
            let back = h.received(id, sent[id - 1].len());
            assert!(back == sent[id - 1], "socket {id} round {round}");
        }
    }
    lists(&mut h, "AT+MIPOPEN?", "+MIPOPEN: 4,5,6");
}

#[test]
fn closed_fault_gives_mipstat_and_a_later_send_fails() {
    let echo = Echo::start();
    let (sim, mut h) = l610(&echo, &[]);
    h.open(1, "tcp.test", 0, "\r\n");
    sim.fault(&["closed"]);
    h.until_line("+MIPSTAT: 1,2");
    for (_, eol) in EOLS {
        let got = h.at("AT+MIPSEND=1,5", eol);
        let last = got.last().unwrap();
        assert_eq!(last, "ERROR", "no prompt on a closed socket: {got:?}");
    }
    h.at("AT+CMEE=1", "\r\n");
    let got = h.at("AT+MIPSEND=1,5", "\r\n");
    assert_eq!(got.last().unwrap(), "+CME ERROR: 3");
    lists(&mut h, "AT+MIPCLOSE?", "+MIPCLOSE: 0");
    // The id can be opened again, and works.
    h.open(1, "tcp.test", 0, "\r\n");
    h.mipsend(1, b"again", "\r\n");
    h.until_line("+MIPRTCP: 1,5,616761696E");
}
