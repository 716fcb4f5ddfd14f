//! What the reference drivers of `modem-harness check-driver` share: the tty, the module's
//! output split into lines, prompts and messages, the environment `check-driver` sets, and the
//! documented connect sequences of both modules. Each driver (`echo_driver.rs`,
//! `pipelining_driver.rs`, `slow_reader_driver.rs`) talks to the module in its own way on top.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// What the module said.
pub enum Event {
    Line(String),
    Message(Vec<u8>),
    Prompt,
}

/// The link to the broker is gone (`CLOSED`, `+CGEV: NW PDN DEACT`, or a command that failed).
#[derive(Debug)]
pub struct Lost(pub String);

/// How the driver reads the tty: `chunk` bytes at most per read(2) (each read asks for a
/// varying 1..=`chunk`), `pause` after each read.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    pub chunk: usize,
    pub pause: Duration,
}

impl Default for Reading {
    fn default() -> Self {
        Reading {
            chunk: 4096,
            pause: Duration::ZERO,
        }
    }
}

/// A received message and when it arrived.
pub struct Inbound {
    pub at: Instant,
    pub payload: Vec<u8>,
}

pub struct Modem {
    file: File,
    buf: Vec<u8>,
    /// Messages that arrived while a command was waiting for its answer.
    pub inbox: VecDeque<Inbound>,
    /// A loss seen while waiting for something else.
    pub lost: Option<String>,
    /// The line end after each command (`MODEM_EOL`, `--eol`).
    pub eol: Vec<u8>,
    pub reading: Reading,
    reads: usize,
}

impl Modem {
    pub fn open(path: &str, eol: Vec<u8>) -> std::io::Result<Modem> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY)
            .open(path)?;
        let mut t = nix::sys::termios::tcgetattr(file.as_fd())?;
        nix::sys::termios::cfmakeraw(&mut t);
        nix::sys::termios::tcsetattr(file.as_fd(), nix::sys::termios::SetArg::TCSANOW, &t)?;
        Ok(Modem {
            file,
            buf: Vec::new(),
            inbox: VecDeque::new(),
            lost: None,
            eol,
            reading: Reading::default(),
            reads: 0,
        })
    }

    pub fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.file.write_all(bytes) {
            eprintln!("driver: write: {e}");
        }
    }

    /// Sends command lines, each with the line end, in one write.
    pub fn send_lines(&mut self, lines: &[&str]) {
        let mut bytes = Vec::new();
        for l in lines {
            bytes.extend_from_slice(l.as_bytes());
            bytes.extend_from_slice(&self.eol);
        }
        self.send(&bytes);
    }

    /// Reads what is there (at most one chunk), waiting at most `wait`; then pauses.
    fn fill(&mut self, wait: Duration) {
        let mut fds = [nix::poll::PollFd::new(
            self.file.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = wait.as_millis().min(10_000) as u16;
        if matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)), Ok(n) if n > 0) {
            self.reads += 1;
            let max = self.reading.chunk.clamp(1, 4096);
            let ask = if max < 4096 {
                1 + (self.reads * 7919) % max
            } else {
                max
            };
            let mut chunk = vec![0u8; ask];
            if let Ok(n) = (&self.file).read(&mut chunk) {
                self.buf.extend_from_slice(&chunk[..n]);
            }
            if !self.reading.pause.is_zero() {
                std::thread::sleep(self.reading.pause);
            }
        }
    }

    /// The next complete event in the buffer, if any. Bytes that cannot start a line (UART
    /// noise) are skipped.
    fn parse(&mut self) -> Option<Event> {
        loop {
            let start = self
                .buf
                .iter()
                .position(|b| b.is_ascii_graphic() || *b == b' ')?;
            self.buf.drain(..start);
            if self.buf.starts_with(b">") {
                self.buf.drain(..1);
                return Some(Event::Prompt);
            }
            if self.buf.starts_with(b"+MQTTMSG: ") {
                // +MQTTMSG: <id>, <qos>, <topic>, <payload>\r\n (seed 002 section 3.3): the
                // payload is the rest of the line, untrimmed.
                let end = find(&self.buf, b"\r\n")?;
                let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                let body = &line[..end];
                let mut at = 0;
                for _ in 0..3 {
                    at += find(&body[at..], b", ")? + 2;
                }
                return Some(Event::Message(body[at..].to_vec()));
            }
            if self.buf.starts_with(b"+IPD,") {
                // +IPD,<len>[,TCP|UDP]:<len raw bytes> (the Air780E with AT+CIPHEAD=1): socket
                // data, framed by its length.
                let colon = self.buf.iter().take(24).position(|&b| b == b':')?;
                let head = String::from_utf8_lossy(&self.buf[5..colon]).into_owned();
                let n: usize = head.split(',').next()?.trim().parse().ok()?;
                if self.buf.len() < colon + 1 + n {
                    return None;
                }
                let payload = self.buf[colon + 1..colon + 1 + n].to_vec();
                self.buf.drain(..colon + 1 + n);
                return Some(Event::Message(payload));
            }
            if self.buf.starts_with(b"+MSUB: \"") {
                // +MSUB: "<topic>",<n> byte,<n raw bytes>\r\n
                let head_end = find(&self.buf, b" byte,")?;
                let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
                let n: usize = head.rsplit(',').next()?.trim().parse().ok()?;
                let body = head_end + b" byte,".len();
                if self.buf.len() < body + n {
                    return None;
                }
                let payload = self.buf[body..body + n].to_vec();
                self.buf.drain(..body + n);
                return Some(Event::Message(payload));
            }
            let end = find(&self.buf, b"\r\n")?;
            let line: Vec<u8> = self.buf.drain(..end + 2).collect();
            let line = String::from_utf8_lossy(&line).trim().to_string();
            if !line.is_empty() {
                return Some(Event::Line(line));
            }
        }
    }

    pub fn next(&mut self, until: Instant) -> Option<Event> {
        loop {
            if let Some(e) = self.parse() {
                return Some(e);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.fill(left.min(Duration::from_millis(200)));
        }
    }

    /// Keeps a message for later.
    pub fn keep(&mut self, payload: Vec<u8>) {
        self.inbox.push_back(Inbound {
            at: Instant::now(),
            payload,
        });
    }

    /// Waits for a line that `done` accepts; messages go to the inbox, losses are remembered.
    pub fn wait(&mut self, timeout: Duration, done: impl Fn(&str) -> bool) -> Result<String, Lost> {
        let until = Instant::now() + timeout;
        loop {
            match self.next(until) {
                None => return Err(Lost("timed out".into())),
                Some(Event::Message(p)) => self.keep(p),
                Some(Event::Prompt) => {}
                Some(Event::Line(l)) => {
                    if is_loss(&l) {
                        self.lost = Some(l.clone());
                    }
                    if done(&l) {
                        return Ok(l);
                    }
                }
            }
        }
    }

    /// Sends a command; `Ok` with its final result line.
    pub fn cmd(&mut self, line: &str) -> Result<String, Lost> {
        self.send_lines(&[line]);
        self.wait(Duration::from_secs(10), is_final)
    }

    pub fn expect_ok(&mut self, line: &str) -> Result<(), Lost> {
        match self.cmd(line)? {
            r if r == "OK" => Ok(()),
            r => Err(Lost(format!("{line}: {r}"))),
        }
    }

    /// Waits for the `>` prompt; a final result instead of it is a failure.
    pub fn wait_prompt(&mut self, timeout: Duration) -> Result<(), Lost> {
        let until = Instant::now() + timeout;
        loop {
            match self.next(until) {
                None => return Err(Lost("no prompt".into())),
                Some(Event::Prompt) => return Ok(()),
                Some(Event::Message(p)) => self.keep(p),
                Some(Event::Line(l)) if l.starts_with("+CME ERROR") || l == "ERROR" => {
                    return Err(Lost(l))
                }
                Some(Event::Line(l)) if is_loss(&l) => self.lost = Some(l),
                Some(Event::Line(_)) => {}
            }
        }
    }
}

/// A command's final result line.
pub fn is_final(l: &str) -> bool {
    l == "OK" || l == "ERROR" || l.starts_with("+CME ERROR")
}

/// A line that says the broker link is gone, on either module.
pub fn is_loss(l: &str) -> bool {
    l == "CLOSED"
        || l.starts_with("+CGEV: NW PDN DEACT")
        || l.starts_with("+MQTTBREAK:")
        || l == "+MIPCALL: 0"
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of `--name VALUE` on the command line.
pub fn flag_value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

pub fn has_flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// The line end: `--eol cr|crlf|lf`, else `MODEM_EOL` (what `check-driver --eol` sets), else
/// CR LF, as nearly every driver sends.
pub fn eol() -> Vec<u8> {
    let name = flag_value("--eol")
        .or_else(|| std::env::var("MODEM_EOL").ok())
        .unwrap_or_else(|| "crlf".into());
    match name.as_str() {
        "cr" => b"\r".to_vec(),
        "lf" => b"\n".to_vec(),
        "crlf" => b"\r\n".to_vec(),
        other => {
            eprintln!("driver: unknown line end {other:?} (cr, crlf or lf)");
            std::process::exit(2);
        }
    }
}

/// What `check-driver` tells the driver, in the environment.
pub struct Config {
    pub host: String,
    pub port: String,
    pub user: String,
    pub password: String,
    pub topic_in: String,
    pub topic_out: String,
    pub l610: bool,
    /// How long to wait for `CONNACK OK` / `+MQTTOPEN:`: 15 s, or 100 ms with `--impatient`
    /// (less than a real module takes: 215-252 ms in the vendor's captures), which passes
    /// `check-driver --timing fast` and fails under `--timing realistic`, as on the hardware.
    pub connack_wait: Duration,
}

/// Waits for the connect's result line for `c.connack_wait`, naming it when it does not come.
fn wait_connack(m: &mut Modem, c: &Config, done: impl Fn(&str) -> bool) -> Result<String, Lost> {
    let what = if c.l610 { "+MQTTOPEN:" } else { "CONNACK OK" };
    m.wait(c.connack_wait, done).map_err(|Lost(why)| {
        if why == "timed out" {
            Lost(format!(
                "no {what} within {} ms",
                c.connack_wait.as_millis()
            ))
        } else {
            Lost(why)
        }
    })
}

impl Config {
    pub fn from_env() -> Config {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        Config {
            host: var("MODEM_BROKER_HOST"),
            port: var("MODEM_BROKER_PORT"),
            user: var("MODEM_MQTT_USER"),
            password: var("MODEM_MQTT_PASSWORD"),
            topic_in: var("MODEM_ECHO_IN"),
            topic_out: var("MODEM_ECHO_OUT"),
            l610: has_flag("--l610"),
            connack_wait: if has_flag("--impatient") {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(15)
            },
        }
    }
}

/// Opens `MODEM_TTY` with the line end of [`eol`], or exits.
pub fn open_modem(name: &str) -> Modem {
    match Modem::open(&std::env::var("MODEM_TTY").unwrap_or_default(), eol()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{name}: cannot open MODEM_TTY: {e}");
            std::process::exit(2);
        }
    }
}

/// Seed 001's sequence, from whatever state the module is in, up to a subscribed session.
pub fn connect(m: &mut Modem, c: &Config, client_id: &str) -> Result<(), Lost> {
    m.lost = None;
    // "Whatever it answers" (seed 001): OK, or 767 after a passive close.
    m.cmd("AT+MIPCLOSE")?;
    m.expect_ok(&format!(
        "AT+MCONFIG=\"{client_id}\",\"{}\",\"{}\"",
        c.user, c.password
    ))?;
    m.expect_ok(&format!("AT+MIPSTART=\"{}\",{}", c.host, c.port))?;
    connected_after_mipstart(m, c)
}

/// The rest of seed 001's sequence once `AT+MIPSTART` answered `OK`: `CONNECT OK`,
/// `AT+MCONNECT`, `CONNACK OK`, `AT+MSUB`, `SUBACK`.
pub fn connected_after_mipstart(m: &mut Modem, c: &Config) -> Result<(), Lost> {
    let r = m.wait(Duration::from_secs(15), |l| {
        l == "CONNECT OK" || l == "CONNECT FAIL" || l == "ALREADY CONNECT"
    })?;
    if r != "CONNECT OK" {
        return Err(Lost(r));
    }
    m.expect_ok("AT+MCONNECT=1,30")?;
    wait_connack(m, c, |l| l == "CONNACK OK" || l == "CLOSED").and_then(|l| {
        if l == "CLOSED" {
            Err(Lost(l))
        } else {
            Ok(l)
        }
    })?;
    m.expect_ok(&format!("AT+MSUB=\"{}\",1", c.topic_in))?;
    m.wait(Duration::from_secs(15), |l| l == "SUBACK" || l == "CLOSED")
        .and_then(|l| if l == "CLOSED" { Err(Lost(l)) } else { Ok(l) })?;
    match m.lost.take() {
        Some(l) => Err(Lost(l)),
        None => Ok(()),
    }
}

/// The L610's sequence (seed 002 section 3.3): the data call if it is down, the account, the
/// open, the subscription.
pub fn connect_l610(m: &mut Modem, c: &Config, client_id: &str) -> Result<(), Lost> {
    m.lost = None;
    // Whatever it answers: the client may already be closed.
    m.cmd("AT+MQTTCLOSE=1")?;
    m.send_lines(&["AT+MIPCALL?"]);
    let call = m.wait(Duration::from_secs(10), |l| l.starts_with("+MIPCALL:"))?;
    m.wait(Duration::from_secs(10), |l| l == "OK" || l == "ERROR")?;
    if call == "+MIPCALL: 0" {
        m.expect_ok("AT+MIPCALL=1")?;
        let ip = m.wait(Duration::from_secs(15), |l| l.starts_with("+MIPCALL:"))?;
        if ip == "+MIPCALL: 0" {
            return Err(Lost("the data call failed".into()));
        }
    }
    // The `+MIPCALL: 0` read above is the state, not a loss.
    m.lost = None;
    m.expect_ok(&format!(
        "AT+MQTTUSER=1,\"{}\",\"{}\",\"{client_id}\"",
        c.user, c.password
    ))?;
    m.expect_ok(&format!("AT+MQTTOPEN=1,\"{}\",{},1,30", c.host, c.port))?;
    let open = wait_connack(m, c, |l| l.starts_with("+MQTTOPEN:"))?;
    if open != "+MQTTOPEN: 1,1" {
        return Err(Lost(open));
    }
    m.expect_ok(&format!("AT+MQTTSUB=1,\"{}\",1", c.topic_in))?;
    let sub = m.wait(Duration::from_secs(15), |l| l.starts_with("+MQTTSUB:"))?;
    if sub != "+MQTTSUB: 1,1" {
        return Err(Lost(sub));
    }
    match m.lost.take() {
        Some(l) => Err(Lost(l)),
        None => Ok(()),
    }
}

/// Republishes one payload with the length form (`AT+MPUBEX` on the Air780E, `AT+MQTTPUB`
/// with a length on the L610), which carries any bytes unchanged.
pub fn echo(m: &mut Modem, c: &Config, payload: &[u8]) -> Result<(), Lost> {
    let cmd = if c.l610 {
        format!("AT+MQTTPUB=1,\"{}\",0,0,{}", c.topic_out, payload.len())
    } else {
        format!("AT+MPUBEX=\"{}\",0,0,{}", c.topic_out, payload.len())
    };
    m.send_lines(&[&cmd]);
    m.wait_prompt(Duration::from_secs(10))?;
    m.send(payload);
    match m.wait(Duration::from_secs(10), is_final)? {
        r if r == "OK" => Ok(()),
        r => Err(Lost(r)),
    }
}

/// Echo off, so every line read is the module's.
pub fn echo_off(m: &mut Modem) {
    for _ in 0..100 {
        if m.expect_ok("ATE0").is_ok() {
            return;
        }
    }
    eprintln!("driver: the module never answered ATE0 with OK");
    std::process::exit(1);
}

/// How [`serve`] behaves.
#[derive(Debug, Clone, Default)]
pub struct Serve {
    /// The deliberately flawed driver: after the first loss it stays silent.
    pub never_reconnect: bool,
    /// Each echo goes out no sooner than this after its message arrived.
    pub echo_delay: Duration,
}

/// The echo loop: connect (seed 001, or seed 002 on the L610), republish every message, and on
/// any loss start over.
pub fn serve(m: &mut Modem, c: &Config, name: &str, how: &Serve) -> ! {
    echo_off(m);
    let mut connected_once = false;
    loop {
        if connected_once && how.never_reconnect {
            eprintln!("{name}: the link is gone and this driver never reconnects");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        let connected = if c.l610 {
            connect_l610(m, c, name)
        } else {
            connect(m, c, name)
        };
        if !subscribed(name, connected) {
            continue;
        }
        connected_once = true;
        loop {
            while let Some(msg) = m.inbox.pop_front() {
                let due = msg.at + how.echo_delay;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if let Err(Lost(why)) = echo(m, c, &msg.payload) {
                    m.lost = Some(why);
                    break;
                }
            }
            if !still_up(m, name) {
                break;
            }
        }
    }
}

/// Whether the connect went through (the driver is subscribed); if not, says why and waits
/// half a second before the caller retries.
pub fn subscribed(name: &str, connected: Result<(), Lost>) -> bool {
    if let Err(Lost(why)) = connected {
        eprintln!("{name}: connect failed ({why}); retrying");
        std::thread::sleep(Duration::from_millis(500));
        return false;
    }
    eprintln!("{name}: subscribed");
    true
}

/// `false` when the link is lost (said so); else waits up to half a second for the next
/// message (kept) or a line that says the link is lost.
pub fn still_up(m: &mut Modem, name: &str) -> bool {
    if let Some(why) = m.lost.take() {
        eprintln!("{name}: link lost ({why})");
        return false;
    }
    match m.next(Instant::now() + Duration::from_millis(500)) {
        Some(Event::Message(p)) => m.keep(p),
        Some(Event::Line(l)) if is_loss(&l) => m.lost = Some(l),
        _ => {}
    }
    true
}
