//! `modem-harness replay`: a log as the vendor guides print it, replayed against a module.
//!
//! The log format (seed 000 sections 6.2-6.4, seed 002's test log, seed 003):
//! - a line starting with `AT` (any case) is a command the host sends, unless a blank follows
//!   the `AT`: the L610's boot URC `AT command ready` is module output (the rule
//!   [`crate::exchange`] follows). A host line repeated right after itself is the module's echo
//!   (the L610 echoes by default; seed 002 section 3.3 prints `ATE0` twice): sent once;
//! - any other non-blank line is what the module printed, in order;
//! - `//` starts a comment (at the start of a line or after whitespace, outside quotes), and
//!   blank lines mean nothing (the guides render the module's CR LF framing inconsistently);
//! - a `>` line is the module's data prompt; the lines after it (up to a blank line or the
//!   final `OK`/`ERROR`) are the payload the host sends. They are joined with LF or CR LF,
//!   whichever gives the length the command declared (`AT+FSWRITE=...,1212,15`);
//! - `//@ <action>` lines are the harness's own, for what happens off the UART in a log
//!   (a broker-side client publishing, the server dropping the link): they appear only in the
//!   annotated companions in `fixtures/replay/`, never in a vendor's log. See [`Directive`].
//!
//! The dialect is the target's ([`Target::dialect`], `--dialect`), not the log's: a log does not
//! say which module printed it. `harness/tests/replay.rs` replays seed 002's blocks (the
//! Fibocom L610 guide, files named `002-*`) on the L610 and every other seed's on the Air780E.
//!
//! An expected line may hold `{}` for a value that differs per module and per moment (the
//! time, an address, an IMEI): it matches one or more characters within the line, the rest is
//! compared exactly ([`crate::pattern`], the matcher `run` and the features use too).
//!
//! Matching: each expected line must be the module's next line (blank lines and the echo of
//! commands skipped), except that unsolicited lines (anything but `OK`, `ERROR`, `+CME ERROR`,
//! `>`) may arrive up to [`WINDOW`] expected lines early or late: a URC races the answer of the
//! command the host sends next. Nothing else may come between: an extra line is a divergence.

use std::path::PathBuf;
use std::time::Duration;

use modem_sim::dialect::DialectKind;
use modem_sim::modem::Fault;
use modem_sim::sim::{BrokerSetup, SimConfig, Simulator};
use nom::bytes::complete::{tag, take_till, take_while1};
use nom::character::complete::space0;
use nom::combinator::rest;
use nom::sequence::preceded;
use nom::{IResult, Parser};
use tokio::time::Instant;

use crate::device::{show, Device, DeviceError, Eol, Item, DEFAULT_TIMEOUT};
use crate::exchange::{is_host_line, strip_comment};
use crate::mqtt::MqttClient;
use crate::rewrite::{rewrite, BrokerTarget};
use crate::transcript::Transcript;
use crate::world::{mconfig_client_id, ROOT};

/// How many expected lines a URC may arrive early or late by.
pub const WINDOW: usize = 4;

/// A harness action in a log (`//@ ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `//@ publish <topic> <payload>`: a broker-side client publishes at QoS 0 (the payload is
    /// the rest of the line, with C escapes such as `\r\n`).
    Publish { topic: String, payload: Vec<u8> },
    /// `//@ subscribe <topic>`: the broker-side client subscribes (and waits for SUBACK).
    Subscribe { topic: String },
    /// `//@ received <topic> <payload>`: the broker-side client has received this message.
    Received { topic: String, payload: Vec<u8> },
    /// `//@ drop`: the broker drops the modem's connection (in-process simulator only).
    Drop,
    /// `//@ pdn-deact`: the network deactivates the PDP context (in-process simulator only).
    PdnDeact,
    /// `//@ connect-timeout <n>ms`: the broker closes links that send no CONNECT in time
    /// (in-process simulator only).
    ConnectTimeout(Duration),
    /// `//@ fault <fault>`: any fault of the simulator's table, written as `modem-sim inject`
    /// takes it (`//@ fault sim-removed`, `//@ fault deregister`, `//@ fault signal 5`), injected
    /// now (in-process simulator only). A real capture's "USIMDET与GND短接" or "拔掉天线".
    Fault(Fault),
}

/// One meaningful line of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Send(String),
    Expect(String),
    /// The `>` data prompt.
    Prompt,
    /// Raw bytes the host sends after a prompt.
    Payload(Vec<u8>),
    Directive(Directive),
}

/// An entry and the 1-based line of the log it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub no: usize,
    pub entry: Entry,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name}:{line}: {message}")]
pub struct ParseError {
    pub name: String,
    pub line: usize,
    pub message: String,
}

/// A parsed log.
#[derive(Debug, Clone)]
pub struct Log {
    pub name: String,
    pub lines: Vec<Line>,
    /// Each line's time stamp in ms since midnight, for logs a serial tool stamped
    /// (`[03:13:51.496]收←◆`): the stamp of the chunk the line was in. `None` without one.
    pub times: Vec<Option<u64>>,
    source: Vec<String>,
}

/// `[hh:mm:ss.mmm]` at the start of a line, then the serial tool's direction mark (`发→◇`
/// sent, `收←◆` received): the time in ms since midnight and the rest of the line.
fn strip_stamp(line: &str) -> Option<(u64, &str)> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once(']')?;
    let (hms, ms) = stamp.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || ms.len() != 3 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let ms: u64 = ms.parse().ok()?;
    let rest = rest
        .strip_prefix("发→◇")
        .or_else(|| rest.strip_prefix("收←◆"))
        .unwrap_or(rest);
    Some((((h * 60 + m) * 60 + s) * 1000 + ms, rest))
}

/// Splits text into lines (LF or CR LF; a last line without LF counts).
fn raw_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut input = text;
    while !input.is_empty() {
        let r: IResult<&str, &str> = take_till(|c| c == '\n').parse(input);
        let Ok((after, line)) = r else { break };
        out.push(line.strip_suffix('\r').unwrap_or(line));
        let r: IResult<&str, &str> = tag("\n").parse(after);
        input = r.map(|(a, _)| a).unwrap_or(after);
    }
    out
}

/// `//@ name args`.
fn directive_parts(i: &str) -> IResult<&str, (&str, &str)> {
    preceded(
        (space0, tag("//@"), space0),
        (
            take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-'),
            rest,
        ),
    )
    .parse(i)
}

fn parse_directive(name: &str, args: &str) -> Result<Directive, String> {
    let args = args.trim();
    let (first, more) = match args.split_once(char::is_whitespace) {
        Some((a, b)) => (a, b.trim_start()),
        None => (args, ""),
    };
    let need_topic = || {
        if first.is_empty() {
            Err(format!("`//@ {name}` needs a topic"))
        } else {
            Ok(first.to_string())
        }
    };
    let payload = || crate::steps::unescape(more).map_err(|e| e.to_string());
    match name {
        "publish" => Ok(Directive::Publish {
            topic: need_topic()?,
            payload: payload()?,
        }),
        "subscribe" => Ok(Directive::Subscribe {
            topic: need_topic()?,
        }),
        "received" => Ok(Directive::Received {
            topic: need_topic()?,
            payload: payload()?,
        }),
        "drop" => Ok(Directive::Drop),
        "fault" => args
            .parse::<Fault>()
            .map(Directive::Fault)
            .map_err(|e| format!("`//@ fault {args}`: {e}")),
        "pdn-deact" => Ok(Directive::PdnDeact),
        "connect-timeout" => {
            let digits = first.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("`//@ connect-timeout {first}`: give a time like 300ms or 5s"))?;
            Ok(Directive::ConnectTimeout(crate::steps::duration(
                n,
                &first[digits.len()..],
            )))
        }
        other => Err(format!(
            "unknown harness action `//@ {other}` (publish, subscribe, received, drop, pdn-deact, connect-timeout, fault)"
        )),
    }
}

fn is_final(line: &str) -> bool {
    line == "OK"
        || line == "ERROR"
        || line.starts_with("+CME ERROR")
        || line.starts_with("+CMS ERROR")
}

/// Lines the module prints by itself, which may race the answers around them. A URC is known
/// by its opening text: a line that starts with a `{}` wildcard (a bare IMEI or address) is an
/// answer, matched in its place only, or it would take any line that came early.
fn is_unsolicited(entry: &Entry) -> bool {
    matches!(entry, Entry::Expect(l) if !is_final(l) && !l.starts_with(crate::pattern::WILDCARD))
}

/// The arguments of a command line, split by the simulator's own splitter
/// ([`modem_sim::at::split_args`]): a quoted argument keeps its commas. Empty when the line is
/// no `AT+X=<args>` command or its arguments do not parse.
fn set_args(command: &str) -> Vec<modem_sim::at::Arg> {
    match modem_sim::at::parse_line(command.as_bytes()) {
        Ok(modem_sim::at::Command {
            form: modem_sim::at::Form::Set(raw),
            ..
        }) => modem_sim::at::split_args(&raw).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The integers among a command's arguments: the declared payload length is one of them.
fn int_args(command: &str) -> Vec<usize> {
    set_args(command)
        .iter()
        .filter_map(|a| a.number().map(|n| n as usize))
        .collect()
}

/// Joins payload lines the way that gives a declared length, else with CR LF (what a
/// terminal sends).
fn join_payload(lines: &[&str], declared: &[usize]) -> Vec<u8> {
    let candidates = [
        lines.join("\n"),
        lines.join("\r\n"),
        format!("{}\n", lines.join("\n")),
        format!("{}\r\n", lines.join("\r\n")),
    ];
    candidates
        .iter()
        .find(|c| declared.contains(&c.len()))
        .unwrap_or(&candidates[1])
        .as_bytes()
        .to_vec()
}

/// A `+MSUB: "<topic>",<n> byte,<payload>` whose payload holds line ends: the module frames
/// it by `<n>`, and so does the log. When the payload on the header's line (comment removed)
/// is shorter than `<n>`, the payload is the rest of the header's line as written followed by
/// the next lines as written (comments are payload there; blank lines are empty payload
/// lines), joined with CR LF, or LF, whichever gives exactly `<n>` bytes (CR LF is tried
/// first). A log that ends inside the payload gives what it has. `*i` moves past the lines
/// taken. `None`: not such a line (an ordinary expected line); `Some(Err)`: the lines
/// overshoot `<n>`.
fn msub_payload_lines(
    raw: &[&str],
    i: &mut usize,
    code: &str,
    line: &str,
) -> Option<Result<String, String>> {
    let (n, at) = crate::device::msub_declared(code.as_bytes())?;
    if code.len() >= at + n {
        return None;
    }
    // The header is the same in `line` (comments only come after it).
    let head = line.trim_start();
    let first = head.get(at..)?;
    let mut parts: Vec<&str> = vec![first];
    let mut j = *i;
    loop {
        let text: usize = parts.iter().map(|p| p.len()).sum();
        let gaps = parts.len() - 1;
        if text + 2 * gaps == n {
            *i = j;
            return Some(Ok(format!("{}{}", &head[..at], parts.join("\r\n"))));
        }
        if text + gaps == n {
            *i = j;
            return Some(Ok(format!("{}{}", &head[..at], parts.join("\n"))));
        }
        if j >= raw.len() && text + gaps < n {
            // The log ends inside the payload (a log cut short): the payload is what there is,
            // and the replay shows what the module said instead.
            *i = j;
            return Some(Ok(format!("{}{}", &head[..at], parts.join("\r\n"))));
        }
        if text + gaps > n || j >= raw.len() {
            return Some(Err(format!(
                "`{}` declares {n} bytes, but its payload lines give {} (joined with CR LF) or {} (LF): give the payload's lines up to exactly {n} bytes",
                &head[..at],
                text + 2 * gaps,
                text + gaps
            )));
        }
        parts.push(raw[j]);
        j += 1;
    }
}

impl Log {
    /// Parses a log. Fails only on a malformed `//@` action (a typo there must not make a
    /// replay pass by doing nothing).
    pub fn parse(name: &str, text: &str) -> Result<Log, ParseError> {
        let source = raw_lines(text);
        // A stamped log: the marks go, each line keeps its chunk's time; `□` (the CR LF the
        // tool sent) is no line.
        let mut stamp = None;
        let mut stamps = Vec::with_capacity(source.len());
        let raw: Vec<&str> = source
            .iter()
            .map(|l| {
                let l = match strip_stamp(l) {
                    Some((t, rest)) => {
                        stamp = Some(t);
                        rest
                    }
                    None => l,
                };
                stamps.push(stamp);
                if l.trim() == "□" {
                    ""
                } else {
                    l
                }
            })
            .collect();
        let mut lines = Vec::new();
        let mut last_send = String::new();
        let mut i = 0;
        while i < raw.len() {
            let no = i + 1;
            let line = raw[i];
            i += 1;
            if let Ok((_, (dname, args))) = directive_parts(line) {
                let d = parse_directive(dname, args).map_err(|message| ParseError {
                    name: name.to_string(),
                    line: no,
                    message,
                })?;
                lines.push(Line {
                    no,
                    entry: Entry::Directive(d),
                });
                continue;
            }
            let code = strip_comment(line);
            if code.is_empty() {
                continue;
            }
            if let Some(after) = code.strip_prefix('>') {
                lines.push(Line {
                    no,
                    entry: Entry::Prompt,
                });
                // The payload: on the prompt's own line, or the lines after it.
                let mut payload: Vec<&str> = Vec::new();
                let first_no = if after.trim().is_empty() {
                    while i < raw.len() && raw[i].trim().is_empty() {
                        i += 1;
                    }
                    let start = i + 1;
                    while i < raw.len() && !raw[i].trim().is_empty() && !is_final(raw[i].trim()) {
                        payload.push(raw[i].trim_end());
                        i += 1;
                    }
                    start
                } else {
                    payload.push(after.trim_start());
                    no
                };
                if !payload.is_empty() {
                    lines.push(Line {
                        no: first_no,
                        entry: Entry::Payload(join_payload(&payload, &int_args(&last_send))),
                    });
                }
                continue;
            }
            let is_host = is_host_line(code);
            if is_host
                && matches!(lines.last(), Some(Line { entry: Entry::Send(prev), .. }) if prev == code)
            {
                // The module's echo of the line just typed (the L610 echoes by default; seed
                // 002 section 3.3 prints `ATE0` twice). The device skips echoes by itself.
                continue;
            }
            if !is_host {
                if let Some(declared) = msub_payload_lines(&raw, &mut i, code, line) {
                    let text = declared.map_err(|message| ParseError {
                        name: name.to_string(),
                        line: no,
                        message,
                    })?;
                    lines.push(Line {
                        no,
                        entry: Entry::Expect(text),
                    });
                    continue;
                }
            }
            lines.push(Line {
                no,
                entry: if is_host {
                    last_send = code.to_string();
                    Entry::Send(code.to_string())
                } else {
                    Entry::Expect(code.to_string())
                },
            });
        }
        let times = lines.iter().map(|l: &Line| stamps[l.no - 1]).collect();
        Ok(Log {
            name: name.to_string(),
            lines,
            times,
            source: source.into_iter().map(String::from).collect(),
        })
    }

    /// A command must at least get its final result code: a log that stops right after one
    /// (or after its prompt and payload) cannot say whether the module's answer is right, so
    /// it would pass whatever came. `replay` refuses such a log as incomplete.
    pub fn check_complete(&self) -> Result<(), ParseError> {
        let lines = &self.lines;
        if let Some(at) = lines
            .iter()
            .rposition(|l| matches!(l.entry, Entry::Send(_)))
        {
            if !lines[at + 1..]
                .iter()
                .any(|l| matches!(l.entry, Entry::Expect(_)))
            {
                let Entry::Send(cmd) = &lines[at].entry else {
                    unreachable!()
                };
                return Err(ParseError {
                    name: self.name.clone(),
                    line: lines[at].no,
                    message: format!(
                        "the log ends with `{cmd}` and nothing the module answered: incomplete (add at least its final result, e.g. OK or ERROR)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The log's own lines around line `no`, the line itself marked.
    pub fn around(&self, no: usize) -> String {
        let from = no.saturating_sub(4).max(1);
        let to = (no + 3).min(self.source.len());
        let mut s = String::new();
        for n in from..=to {
            let mark = if n == no { ">" } else { " " };
            s.push_str(&format!("  {mark} {n:>4} | {}\n", self.source[n - 1]));
        }
        s
    }

    /// User name / password pairs the log logs in with (`AT+MCONFIG`, `AT+MQTTUSER`): a fresh
    /// simulated broker accepts them, as the vendor's server did.
    pub fn accounts(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        for l in &self.lines {
            let Entry::Send(cmd) = &l.entry else { continue };
            let upper = cmd.to_ascii_uppercase();
            if !(upper.starts_with("AT+MCONFIG=") || upper.starts_with("AT+MQTTUSER=")) {
                continue;
            }
            let parts: Vec<String> = set_args(cmd).iter().map(|a| a.text()).collect();
            if parts.len() >= 3 {
                v.push((parts[1].clone(), parts[2].clone()));
            }
        }
        v
    }
}

/// Where to replay.
#[derive(Debug, Clone)]
pub struct Target {
    /// An external device (a USB serial adapter, or a simulator's tty) and its baud rate;
    /// `None` starts a fresh in-process simulator.
    pub port: Option<(PathBuf, u32)>,
    pub dialect: DialectKind,
    /// The broker the module connects to. Host lines and credentials are rewritten to it
    /// ([`crate::rewrite`]). For the in-process simulator, `None` means its embedded broker.
    pub broker: Option<BrokerTarget>,
    /// How long to wait for each expected line.
    pub timeout: Duration,
    /// The in-process simulator's timing profile (`fast` by default: a replay checks what
    /// the module says; `--timing realistic` also how long it takes).
    pub timing: modem_sim::timing::Profile,
    /// Seeds the profile's jitter.
    pub seed: u64,
    /// The model and firmware (`--model`, `--firmware`): the in-process simulator's, and on a
    /// port the one whose power-on lines are waited for.
    pub model: crate::model::SimModel,
    /// The line end after each command line the host sends.
    pub eol: Eol,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            port: None,
            dialect: DialectKind::Air780e,
            broker: None,
            timeout: DEFAULT_TIMEOUT,
            timing: modem_sim::timing::Profile::fast(),
            seed: 1,
            model: crate::model::SimModel::default(),
            eol: Eol::default(),
        }
    }
}

/// The first point where the module did not do what the log says.
#[derive(Debug, Clone)]
pub struct Divergence {
    pub log: String,
    pub line: usize,
    pub expected: String,
    pub actual: String,
    /// Which field of the line differed ([`crate::pattern::differing_field`]), when the
    /// module printed a line.
    pub detail: Option<String>,
    pub log_context: String,
    /// The last lines of the UART transcript.
    pub transcript: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "first divergence at {}:{}", self.log, self.line)?;
        writeln!(f, "  expected: {}", self.expected)?;
        writeln!(f, "  actual:   {}", self.actual)?;
        if let Some(d) = &self.detail {
            writeln!(f, "  {d}")?;
        }
        writeln!(f, "the log around it:")?;
        write!(f, "{}", self.log_context)?;
        write!(f, "{}", self.transcript)
    }
}

/// The result of a replay that ran to a verdict.
#[derive(Debug)]
pub struct Report {
    pub divergence: Option<Divergence>,
    pub transcript: Transcript,
    /// Entries replayed (up to the divergence).
    pub replayed: usize,
    /// The HTML report written for this log (`--html`), named in the JUnit failure.
    pub html: Option<std::path::PathBuf>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.divergence.is_none()
    }
}

/// A replay that could not reach a verdict: the device could not be opened, the log needs a
/// broker nobody gave, ...
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("starting the simulator: {0}")]
    Sim(#[from] modem_sim::sim::SimError),
    #[error("{0}")]
    Needs(String),
    #[error("{0:#}")]
    Broker(anyhow::Error),
    #[error("{0}")]
    Model(String),
}

struct Run<'a> {
    log: &'a Log,
    target: &'a Target,
    device: Device,
    sim: Option<&'a Simulator>,
    client: Option<MqttClient>,
    modem_client_id: Option<String>,
    matched: Vec<bool>,
}

/// Replays `log` on `target`. `progress` gets one line per command sent.
pub async fn replay(
    log: &Log,
    target: &Target,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, ReplayError> {
    let transcript = Transcript::new();
    let sim = match &target.port {
        Some(_) => None,
        None => {
            let mut cfg = SimConfig {
                dialect: target.dialect,
                timing: target.timing.clone(),
                seed: target.seed,
                identity: target
                    .model
                    .identity(target.dialect)
                    .map_err(ReplayError::Model)?,
                ..SimConfig::default()
            };
            if let Some(b) = cfg.broker.embedded_mut() {
                b.accounts.extend(log.accounts());
            }
            if let Some(b) = &target.broker {
                cfg.broker = BrokerSetup::External(b.addr.clone());
            }
            Some(Simulator::start(cfg).await?)
        }
    };
    let result = async {
        let (path, baud) = match (&target.port, &sim) {
            (Some((p, b)), _) => (p.clone(), *b),
            (None, Some(s)) => (s.tty().to_path_buf(), 115_200),
            (None, None) => unreachable!("a simulator is started when no port is given"),
        };
        transcript.note(format!("replay {} on {}", log.name, path.display()));
        let mut device = Device::open(&path, baud)?
            .with_transcript(transcript.clone())
            .with_eol(target.eol);
        // A log that begins with the module's own lines (its power-on lines) expects them; one
        // that begins with a command is sent once the boot is over, as a driver would.
        let first = log
            .lines
            .iter()
            .find(|l| !matches!(l.entry, Entry::Directive(_)));
        if matches!(first, Some(l) if matches!(l.entry, Entry::Send(_))) {
            let last = target
                .model
                .boot_end(target.dialect)
                .map_err(ReplayError::Model)?;
            let quiet = target.port.is_some().then_some(crate::model::BOOT_QUIET);
            device.wait_boot(&last, quiet, target.timeout).await?;
            device.sync(target.timeout).await?;
        }
        let mut run = Run {
            log,
            target,
            device,
            sim: sim.as_ref(),
            client: None,
            modem_client_id: None,
            matched: vec![false; log.lines.len()],
        };
        run.go(progress).await
    }
    .await;
    if let Some(s) = sim {
        s.shutdown().await;
    }
    let (divergence, replayed) = result?;
    Ok(Report {
        html: None,
        divergence,
        transcript,
        replayed,
    })
}

fn entry_matches(entry: &Entry, item: &Item) -> bool {
    match (entry, item) {
        (Entry::Prompt, Item::Prompt) => true,
        (Entry::Expect(e), Item::Line(l)) => crate::pattern::matches(e, l),
        (Entry::Expect(e), Item::Prompt) => e.trim() == ">",
        _ => false,
    }
}

fn expected_text(entry: &Entry) -> String {
    match entry {
        Entry::Expect(e) => show(e.as_bytes()),
        Entry::Prompt => ">".into(),
        other => format!("{other:?}"),
    }
}

impl Run<'_> {
    async fn go(
        &mut self,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(Option<Divergence>, usize), ReplayError> {
        let lines = &self.log.lines;
        for (i, line) in lines.iter().enumerate() {
            let no = line.no;
            let outcome = match &line.entry {
                Entry::Send(cmd) => {
                    let cmd = match &self.target.broker {
                        Some(b) => rewrite(cmd, b),
                        None => cmd.clone(),
                    };
                    if let Some(id) = mconfig_client_id(&cmd) {
                        self.modem_client_id = Some(id);
                    }
                    progress(&format!("{:>5}  {cmd}", no));
                    self.device.send_line(&cmd).await?;
                    None
                }
                Entry::Payload(bytes) => {
                    self.device.send_data(bytes).await?;
                    None
                }
                Entry::Directive(d) => {
                    progress(&format!("{:>5}  //@ {d:?}", no));
                    self.directive(i, d).await?
                }
                Entry::Expect(_) | Entry::Prompt => self.expect(i).await?,
            };
            if let Some(d) = outcome {
                return Ok((Some(d), i));
            }
        }
        Ok((None, lines.len()))
    }

    fn divergence(&self, i: usize, actual: String) -> Divergence {
        let l = &self.log.lines[i];
        Divergence {
            log: self.log.name.clone(),
            line: l.no,
            expected: match &l.entry {
                Entry::Directive(d) => format!("{d:?}"),
                e => expected_text(e),
            },
            actual,
            detail: None,
            log_context: self.log.around(l.no),
            transcript: self.device.transcript(),
        }
    }

    /// An expected line that arrives before its turn, within the window: `j` such that the
    /// item matches entry `j`. Past a command, only unsolicited lines may come early (the
    /// module cannot answer a command it has not received); a harness action ends the window
    /// (what it causes cannot come before it).
    fn early(&self, i: usize, item: &Item) -> Option<usize> {
        let lines = &self.log.lines;
        let mut seen = 0;
        let mut crossed_send = false;
        for (j, l) in lines.iter().enumerate().skip(i + 1) {
            match &l.entry {
                Entry::Send(_) | Entry::Payload(_) => crossed_send = true,
                Entry::Directive(_) => return None,
                e @ (Entry::Expect(_) | Entry::Prompt) => {
                    seen += 1;
                    if seen > WINDOW {
                        return None;
                    }
                    let may = if crossed_send {
                        is_unsolicited(e)
                    } else {
                        is_unsolicited(e) || is_unsolicited(&lines[i].entry)
                    };
                    if may && !self.matched[j] && entry_matches(e, item) {
                        return Some(j);
                    }
                }
            }
        }
        None
    }

    async fn expect(&mut self, i: usize) -> Result<Option<Divergence>, ReplayError> {
        if self.matched[i] {
            return Ok(None);
        }
        loop {
            let deadline = Instant::now() + self.target.timeout;
            let item = match self.device.next_answer(deadline).await {
                Ok(item) => item,
                Err(DeviceError::Closed) => {
                    return Ok(Some(
                        self.divergence(i, "the device closed (end of file)".into()),
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            let Some(item) = item else {
                let actual = format!(
                    "nothing within {:?} ({})",
                    self.target.timeout,
                    self.device.said_since_send()
                );
                return Ok(Some(self.divergence(i, actual)));
            };
            if entry_matches(&self.log.lines[i].entry, &item) {
                self.matched[i] = true;
                return Ok(None);
            }
            if let Some(j) = self.early(i, &item) {
                self.matched[j] = true;
                continue;
            }
            let actual = match item {
                Item::Prompt => ">".to_string(),
                Item::Line(l) => show(&l),
            };
            let detail = match &self.log.lines[i].entry {
                Entry::Expect(e) => crate::pattern::differing_field(e, &actual),
                _ => None,
            };
            return Ok(Some(Divergence {
                detail,
                ..self.divergence(i, actual)
            }));
        }
    }

    fn sim(&self, what: &str) -> Result<&Simulator, ReplayError> {
        self.sim.ok_or_else(|| {
            ReplayError::Needs(format!(
                "{}: `{what}` needs the in-process simulator (replay without --port)",
                self.log.name
            ))
        })
    }

    async fn client(&mut self) -> Result<&mut MqttClient, ReplayError> {
        if self.client.is_none() {
            let (addr, user, password) = match (&self.target.broker, self.sim) {
                (Some(b), _) => (
                    resolve(&b.addr).await?,
                    b.user.clone().unwrap_or_else(|| ROOT.0.into()),
                    b.password.clone().unwrap_or_else(|| ROOT.1.into()),
                ),
                (None, Some(sim)) => (
                    sim.mqtt_addr().ok_or_else(|| {
                        ReplayError::Needs("the simulator has no embedded broker".into())
                    })?,
                    ROOT.0.to_string(),
                    ROOT.1.to_string(),
                ),
                (None, None) => {
                    return Err(ReplayError::Needs(format!(
                        "{}: its broker-side actions (`//@ publish`, ...) need --broker",
                        self.log.name
                    )))
                }
            };
            let id = format!("harness-replay-{}", std::process::id());
            let c = MqttClient::connect(&id, addr, &user, &password, self.target.timeout)
                .await
                .map_err(ReplayError::Broker)?;
            self.client = Some(c);
        }
        self.client
            .as_mut()
            .ok_or_else(|| ReplayError::Needs("no MQTT client".into()))
    }

    async fn directive(
        &mut self,
        i: usize,
        d: &Directive,
    ) -> Result<Option<Divergence>, ReplayError> {
        let t = self.target.timeout;
        let record = self.device.recording().clone();
        match d {
            Directive::Publish { topic, payload } => {
                record.mqtt("replay", format!("publish {topic:?} {:?}", show(payload)));
                self.client()
                    .await?
                    .publish(topic, rumqttc::QoS::AtMostOnce, false, payload.clone(), t)
                    .await
                    .map_err(ReplayError::Broker)?;
            }
            Directive::Subscribe { topic } => {
                record.mqtt("replay", format!("subscribe {topic:?}"));
                self.client()
                    .await?
                    .subscribe(topic, rumqttc::QoS::ExactlyOnce, t)
                    .await
                    .map_err(ReplayError::Broker)?;
            }
            Directive::Received { topic, payload } => {
                let r = self.client().await?.receive(topic, payload, t).await;
                match r {
                    Ok(_) => {
                        record.mqtt("replay", format!("received {topic:?} {:?}", show(payload)))
                    }
                    Err(e) => return Ok(Some(self.divergence(i, format!("{e:#}")))),
                }
            }
            Directive::Drop => {
                let id = self.modem_client_id.clone().ok_or_else(|| {
                    ReplayError::Needs(format!(
                        "{}: `//@ drop` before any AT+MCONFIG: which client should be dropped?",
                        self.log.name
                    ))
                })?;
                let sim = self.sim("//@ drop")?;
                let kicked = sim.broker().is_some_and(|b| b.kick_client(&id));
                record.fault(format!("broker drops client {id}"));
                if !kicked {
                    return Ok(Some(self.divergence(
                        i,
                        format!("the broker has no client {id:?} to drop"),
                    )));
                }
            }
            Directive::PdnDeact => {
                record.fault("network deactivates the PDP context");
                self.sim("//@ pdn-deact")?
                    .inject(Fault::PDN_DEACT)
                    .await
                    .map_err(|e| ReplayError::Needs(e.to_string()))?;
            }
            Directive::Fault(fault) => {
                record.fault(fault.to_string());
                self.sim("//@ fault")?
                    .inject(fault.clone())
                    .await
                    .map_err(|e| ReplayError::Needs(e.to_string()))?;
            }
            Directive::ConnectTimeout(dur) => {
                record.fault(format!("broker closes links without CONNECT after {dur:?}"));
                let sim = self.sim("//@ connect-timeout")?;
                let b = sim
                    .broker()
                    .ok_or_else(|| ReplayError::Needs("needs the embedded broker".into()))?;
                b.set_connect_timeout(Some(*dur));
            }
        }
        Ok(None)
    }
}

/// A broker's address, resolved once.
pub async fn resolve(addr: &modem_sim::net::HostPort) -> Result<std::net::SocketAddr, ReplayError> {
    tokio::net::lookup_host((addr.host.as_str(), addr.port))
        .await
        .map_err(|e| {
            ReplayError::Needs(format!(
                "cannot resolve the broker {}:{}: {e}",
                addr.host, addr.port
            ))
        })?
        .next()
        .ok_or_else(|| {
            ReplayError::Needs(format!(
                "the broker {}:{} has no address",
                addr.host, addr.port
            ))
        })
}

/// A JUnit XML report with one test case per replayed log.
pub fn junit_xml(results: &[(String, Result<&Report, String>)], seconds: f64) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failures = results
        .iter()
        .filter(|(_, r)| !matches!(r, Ok(rep) if rep.ok()))
        .count();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"modem-harness replay\" tests=\"{}\" failures=\"{failures}\" time=\"{seconds:.3}\">\n",
        results.len()
    );
    for (name, r) in results {
        s.push_str(&format!(
            "<testcase classname=\"replay\" name=\"{}\"",
            esc(name)
        ));
        match r {
            Ok(rep) if rep.ok() => s.push_str("/>\n"),
            Ok(rep) => {
                let d = rep
                    .divergence
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                let message = match &rep.html {
                    Some(p) => format!("diverged (report: {})", p.display()),
                    None => "diverged".into(),
                };
                s.push_str(&format!(
                    ">\n<failure message=\"{}\">{}</failure>\n<system-out>{}</system-out>\n</testcase>\n",
                    esc(&message),
                    esc(&d),
                    esc(&rep.transcript.to_vendor_log())
                ));
            }
            Err(e) => s.push_str(&format!(
                ">\n<error message=\"{}\"/>\n</testcase>\n",
                esc(e)
            )),
        }
    }
    s.push_str("</testsuite>\n</testsuites>\n");
    s
}

pub mod timing;

#[cfg(test)]
mod tests;
