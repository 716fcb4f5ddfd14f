//! A reference driver for `modem-harness check-driver --contract tcp-echo --dialect l610`: a
//! Fibocom L610 driver that opens a TCP socket to `MODEM_TCP_HOST`:`MODEM_TCP_PORT` and
//! writes back every byte the server sends on it, unchanged, as the public L610 socket drivers
//! do it (RT-Thread `at_socket_l610.c`, OneOS `l610_netconn.c`; README "The L610's sockets"):
//! `AT+MIPCALL=1`, `AT+MIPOPEN=1,,"<host>",<port>,0` and its `+MIPOPEN: 1,1`, received data as
//! `+MIPRTCP: 1,<len>,<hex>` (`AT+GTSET="IPRFMT",0`), sends cut to 2048 bytes with
//! `AT+MIPSEND=1,<len>`, the `>` prompt, the bytes, `+MIPPUSH: 1,0`. A `+MIPSTAT: 1,<n>` (the
//! peer closed, a reset, the call ended) or `+MIPCALL: 0` makes it start again from the call.
//! One command at a time; lines end with `MODEM_EOL` (CR LF by default).
//!
//! `--air780e` makes it an Air780E driver (the vendor's TCP guide and CIP* manual pages):
//! `AT+CIPSHUT`, `AT+CIPHEAD=1`, `AT+CIPSTART="TCP","<host>",<port>` and its `CONNECT OK`, data
//! as `+IPD,<len>:<bytes>`, sends of at most 1460 bytes with `AT+CIPSEND=<len>`, `>`, the bytes,
//! `SEND OK`; `CLOSED` or `+PDP: DEACT` make it start again. Run it with `--dialect air780e`.
//!
//! `--never-reopen` makes it the deliberately flawed driver: after its socket breaks once it
//! stays silent, which `check-driver` must catch.
//!
//! Run: `modem-harness check-driver --contract tcp-echo --dialect l610 --
//! target/debug/examples/tcp_echo_driver`

mod common;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use common::{has_flag, open_modem, Event, Modem};
use modem_harness::transcript::from_hex;

/// The socket or the data call is gone (or a command failed): start again.
struct Gone(String);

struct Driver {
    m: Modem,
    /// The Air780E's CIP* commands instead of the L610's MIP*.
    air: bool,
    /// Bytes received and not yet written back.
    pending: VecDeque<u8>,
}

impl Driver {
    /// Waits for a line `done` accepts (`>` for the prompt). Data lines are kept, a loss or an
    /// error result the caller did not ask for is [`Gone`].
    fn wait(&mut self, timeout: Duration, done: impl Fn(&str) -> bool) -> Result<String, Gone> {
        let until = Instant::now() + timeout;
        loop {
            let line = match self.m.next(until) {
                None => return Err(Gone("timed out".into())),
                Some(Event::Prompt) => ">".to_string(),
                Some(Event::Message(data)) => {
                    // `+IPD,<len>:` data (the Air780E), framed by the common parser.
                    self.pending.extend(data);
                    continue;
                }
                Some(Event::Line(l)) => l,
            };
            if let Some(rest) = line.strip_prefix("+MIPRTCP: 1,") {
                match rest.split_once(',').and_then(|(_, hex)| from_hex(hex)) {
                    Some(data) => self.pending.extend(data),
                    None => eprintln!("tcp-echo-driver: bad data line {line:?}"),
                }
                continue;
            }
            if done(&line) {
                return Ok(line);
            }
            if line.starts_with("+MIPSTAT: 1,")
                || line == "+MIPCALL: 0"
                || (self.air
                    && (line == "CLOSED" || line == "+PDP: DEACT" || line == "CONNECT FAIL"))
                || line == "ERROR"
                || line.starts_with("+CME ERROR")
            {
                return Err(Gone(line));
            }
        }
    }

    fn cmd(&mut self, line: &str, timeout: Duration) -> Result<String, Gone> {
        self.m.send_lines(&[line]);
        self.wait(timeout, |l| l == "OK")
    }

    /// The module answers `AT` (it may still be printing its power-on lines).
    fn sync(&mut self) {
        for _ in 0..60 {
            self.m.send_lines(&["AT"]);
            if self.wait(Duration::from_secs(1), |l| l == "OK").is_ok() {
                return;
            }
        }
    }

    /// The Air780E: from whatever state, the bearer shut, then one link up.
    fn connect_air(&mut self, host: &str, port: &str) -> Result<(), Gone> {
        self.sync();
        let _ = self.cmd("ATE0", Duration::from_secs(5));
        self.m.send_lines(&["AT+CIPSHUT"]);
        let _ = self.wait(Duration::from_secs(10), |l| l == "SHUT OK");
        self.cmd("AT+CIPHEAD=1", Duration::from_secs(5))?;
        let open = format!("AT+CIPSTART=\"TCP\",\"{host}\",{port}");
        self.open(&open, "CONNECT OK", "link", host, port)
    }

    /// Opens the socket with `cmd` and waits until the module says `opened`.
    fn open(
        &mut self,
        cmd: &str,
        opened: &str,
        what: &str,
        host: &str,
        port: &str,
    ) -> Result<(), Gone> {
        self.cmd(cmd, Duration::from_secs(10))?;
        self.wait(Duration::from_secs(60), |l| l == opened)?;
        self.pending.clear();
        eprintln!("tcp-echo-driver: {what} open to {host}:{port}");
        Ok(())
    }

    /// From whatever state: the data call, then socket 1 open.
    fn connect(&mut self, host: &str, port: &str) -> Result<(), Gone> {
        if self.air {
            return self.connect_air(host, port);
        }
        self.sync();
        let _ = self.cmd("ATE0", Duration::from_secs(5));
        self.cmd("AT+GTSET=\"IPRFMT\",0", Duration::from_secs(5))?;
        self.m.send_lines(&["AT+MIPCALL?"]);
        let call = self.wait(Duration::from_secs(5), |l| l.starts_with("+MIPCALL:"))?;
        self.wait(Duration::from_secs(5), |l| l == "OK")?;
        if call == "+MIPCALL: 0" {
            self.cmd("AT+MIPCALL=1", Duration::from_secs(10))?;
            self.wait(Duration::from_secs(30), |l| {
                l.starts_with("+MIPCALL: ") && l.contains('.')
            })?;
        }
        // A socket left from before: closing it may fail, which is fine.
        self.m.send_lines(&["AT+MIPCLOSE=1"]);
        let _ = self.wait(Duration::from_secs(5), |l| {
            l.starts_with("+MIPCLOSE: 1") || l == "ERROR" || l.starts_with("+CME ERROR")
        });
        let open = format!("AT+MIPOPEN=1,,\"{host}\",{port},0");
        self.open(&open, "+MIPOPEN: 1,1", "socket 1", host, port)
    }

    /// Writes back what came, 2048 bytes at most per `AT+MIPSEND`, and waits for more.
    fn serve(&mut self) -> Result<(), Gone> {
        loop {
            while !self.pending.is_empty() {
                let max = if self.air { 1460 } else { 2048 };
                let n = self.pending.len().min(max);
                let chunk: Vec<u8> = self.pending.drain(..n).collect();
                let (cmd, sent) = if self.air {
                    (format!("AT+CIPSEND={n}"), "SEND OK")
                } else {
                    (format!("AT+MIPSEND=1,{n}"), "+MIPPUSH: 1,0")
                };
                self.m.send_lines(&[&cmd]);
                self.wait(Duration::from_secs(15), |l| l == ">")?;
                self.m.send(&chunk);
                self.wait(Duration::from_secs(15), |l| {
                    l == sent || l.starts_with("DATA ACCEPT:")
                })?;
            }
            // Nothing to write: wait for data (a timeout here is only idleness).
            match self.wait(Duration::from_secs(1), |_| false) {
                Err(Gone(why)) if why == "timed out" => {}
                Err(g) => return Err(g),
                Ok(_) => {}
            }
        }
    }
}

fn main() {
    let host = std::env::var("MODEM_TCP_HOST").unwrap_or_default();
    let port = std::env::var("MODEM_TCP_PORT").unwrap_or_default();
    if host.is_empty() || port.is_empty() {
        eprintln!("tcp-echo-driver: MODEM_TCP_HOST and MODEM_TCP_PORT must be set");
        std::process::exit(2);
    }
    let mut d = Driver {
        m: open_modem("tcp-echo-driver"),
        air: has_flag("--air780e"),
        pending: VecDeque::new(),
    };
    loop {
        if let Err(Gone(why)) = d.connect(&host, &port).and_then(|_| d.serve()) {
            if has_flag("--never-reopen") {
                eprintln!("tcp-echo-driver: {why}; not reopening (--never-reopen)");
                loop {
                    std::thread::sleep(Duration::from_secs(60));
                }
            }
            eprintln!("tcp-echo-driver: {why}; starting again");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}
