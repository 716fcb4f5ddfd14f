//! A reference Air780E driver for `modem-harness check-driver`: it subscribes to
//! `MODEM_ECHO_IN` and republishes every payload, unchanged, to `MODEM_ECHO_OUT`, and recovers
//! from every link loss with seed 001's documented sequence (`AT+MIPCLOSE`, whatever it
//! answers, then `MCONFIG`, `MIPSTART`, `MCONNECT`).
//!
//! `--l610` makes it a Fibocom L610 driver (seed 002: `AT+MIPCALL`, `AT+MQTTOPEN`,
//! `+MQTTMSG`, the length form of `AT+MQTTPUB`; `+MQTTBREAK` and `+MIPCALL: 0` mean the link
//! is gone). `--never-reconnect` makes it the deliberately flawed driver: after the first loss
//! it stays silent, which `check-driver` must catch. `--impatient` makes it flawed in time: it
//! waits only 100 ms for `CONNACK OK` (`+MQTTOPEN:` on the L610), less than a real module
//! takes (215-252 ms in the vendor's captures), so it passes `check-driver --timing fast` and
//! fails under `--timing realistic`, as it would on the hardware.
//!
//! Run: `modem-harness check-driver -- target/debug/examples/echo_driver`

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// What the module said.
enum Event {
    Line(String),
    Message(Vec<u8>),
    Prompt,
}

/// The link to the broker is gone (`CLOSED`, `+CGEV: NW PDN DEACT`, or a command that failed).
#[derive(Debug)]
struct Lost(String);

struct Modem {
    file: File,
    buf: Vec<u8>,
    /// Messages that arrived while a command was waiting for its answer.
    inbox: VecDeque<Vec<u8>>,
    /// A loss seen while waiting for something else.
    lost: Option<String>,
}

impl Modem {
    fn open(path: &str) -> std::io::Result<Modem> {
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
        })
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.file.write_all(bytes) {
            eprintln!("echo-driver: write: {e}");
        }
    }

    /// Reads what is there, waiting at most `wait`.
    fn fill(&mut self, wait: Duration) {
        let mut fds = [nix::poll::PollFd::new(
            self.file.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = wait.as_millis().min(10_000) as u16;
        if matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)), Ok(n) if n > 0) {
            let mut chunk = [0u8; 4096];
            if let Ok(n) = (&self.file).read(&mut chunk) {
                self.buf.extend_from_slice(&chunk[..n]);
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

    fn next(&mut self, until: Instant) -> Option<Event> {
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

    /// Waits for a line that `done` accepts; messages go to the inbox, losses are remembered.
    fn wait(&mut self, timeout: Duration, done: impl Fn(&str) -> bool) -> Result<String, Lost> {
        let until = Instant::now() + timeout;
        loop {
            match self.next(until) {
                None => return Err(Lost("timed out".into())),
                Some(Event::Message(p)) => self.inbox.push_back(p),
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
    fn cmd(&mut self, line: &str) -> Result<String, Lost> {
        self.send(format!("{line}\r").as_bytes());
        self.wait(Duration::from_secs(10), |l| {
            l == "OK" || l == "ERROR" || l.starts_with("+CME ERROR")
        })
    }

    fn expect_ok(&mut self, line: &str) -> Result<(), Lost> {
        match self.cmd(line)? {
            r if r == "OK" => Ok(()),
            r => Err(Lost(format!("{line}: {r}"))),
        }
    }
}

/// A line that says the broker link is gone, on either module.
fn is_loss(l: &str) -> bool {
    l == "CLOSED"
        || l.starts_with("+CGEV: NW PDN DEACT")
        || l.starts_with("+MQTTBREAK:")
        || l == "+MIPCALL: 0"
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Config {
    host: String,
    port: String,
    user: String,
    password: String,
    topic_in: String,
    topic_out: String,
    l610: bool,
    /// How long to wait for `CONNACK OK` / `+MQTTOPEN:` (15 s; 100 ms with `--impatient`).
    connack_wait: Duration,
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

/// Seed 001's sequence, from whatever state the module is in, up to a subscribed session.
fn connect(m: &mut Modem, c: &Config) -> Result<(), Lost> {
    m.lost = None;
    // "Whatever it answers" (seed 001): OK, or 767 after a passive close.
    m.cmd("AT+MIPCLOSE")?;
    m.expect_ok(&format!(
        "AT+MCONFIG=\"echo-driver\",\"{}\",\"{}\"",
        c.user, c.password
    ))?;
    m.expect_ok(&format!("AT+MIPSTART=\"{}\",{}", c.host, c.port))?;
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
fn connect_l610(m: &mut Modem, c: &Config) -> Result<(), Lost> {
    m.lost = None;
    // Whatever it answers: the client may already be closed.
    m.cmd("AT+MQTTCLOSE=1")?;
    m.send(b"AT+MIPCALL?\r");
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
        "AT+MQTTUSER=1,\"{}\",\"{}\",\"echo-driver\"",
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
fn echo(m: &mut Modem, c: &Config, payload: &[u8]) -> Result<(), Lost> {
    let cmd = if c.l610 {
        format!("AT+MQTTPUB=1,\"{}\",0,0,{}\r", c.topic_out, payload.len())
    } else {
        format!("AT+MPUBEX=\"{}\",0,0,{}\r", c.topic_out, payload.len())
    };
    m.send(cmd.as_bytes());
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match m.next(until) {
            None => return Err(Lost("no prompt".into())),
            Some(Event::Prompt) => break,
            Some(Event::Message(p)) => m.inbox.push_back(p),
            Some(Event::Line(l)) if l.starts_with("+CME ERROR") || l == "ERROR" => {
                return Err(Lost(l))
            }
            Some(Event::Line(l)) if is_loss(&l) => {
                m.lost = Some(l);
            }
            Some(Event::Line(_)) => {}
        }
    }
    m.send(payload);
    match m.wait(Duration::from_secs(10), |l| {
        l == "OK" || l == "ERROR" || l.starts_with("+CME ERROR")
    })? {
        r if r == "OK" => Ok(()),
        r => Err(Lost(r)),
    }
}

fn main() {
    let never_reconnect = std::env::args().any(|a| a == "--never-reconnect");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let c = Config {
        host: var("MODEM_BROKER_HOST"),
        port: var("MODEM_BROKER_PORT"),
        user: var("MODEM_MQTT_USER"),
        password: var("MODEM_MQTT_PASSWORD"),
        topic_in: var("MODEM_ECHO_IN"),
        topic_out: var("MODEM_ECHO_OUT"),
        l610: std::env::args().any(|a| a == "--l610"),
        connack_wait: if std::env::args().any(|a| a == "--impatient") {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(15)
        },
    };
    let mut m = match Modem::open(&var("MODEM_TTY")) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("echo-driver: cannot open MODEM_TTY: {e}");
            std::process::exit(2);
        }
    };
    // Echo off, so every line read is the module's.
    while m.expect_ok("ATE0").is_err() {}
    let mut connected_once = false;
    loop {
        if connected_once && never_reconnect {
            eprintln!("echo-driver: the link is gone and this driver never reconnects");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        let connected = if c.l610 {
            connect_l610(&mut m, &c)
        } else {
            connect(&mut m, &c)
        };
        if let Err(Lost(why)) = connected {
            eprintln!("echo-driver: connect failed ({why}); retrying");
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        connected_once = true;
        eprintln!("echo-driver: subscribed");
        loop {
            while let Some(p) = m.inbox.pop_front() {
                if let Err(Lost(why)) = echo(&mut m, &c, &p) {
                    m.lost = Some(why);
                    break;
                }
            }
            if let Some(why) = m.lost.take() {
                eprintln!("echo-driver: link lost ({why})");
                break;
            }
            match m.next(Instant::now() + Duration::from_millis(500)) {
                Some(Event::Message(p)) => m.inbox.push_back(p),
                Some(Event::Line(l)) if is_loss(&l) => m.lost = Some(l),
                _ => {}
            }
        }
    }
}
