//! Transcripts: everything that happened on the UART (both directions, as the host saw it),
//! broker-side MQTT client events and injected faults, with time stamps.
//!
//! Written as JSONL (one event per line, for tools) and rendered in the vendor-log format the
//! guides print (AT lines, then the module's lines; MQTT events and faults as `//` comments), so
//! a transcript of a real module can be read side by side with the guide, or replayed.
//! [`normalise`] drops what changes from run to run (time stamps, ports, tty paths, process
//! ids), which is what the insta snapshots pin.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// A command line the host wrote (without its terminator).
    UartTx { text: String },
    /// Raw bytes the host wrote after a `>` prompt (control bytes escaped).
    UartTxData { text: String, len: usize },
    /// A line (or the `>` prompt) the module printed; blank lines are kept as "".
    UartRx { text: String },
    /// A broker-side MQTT client's action or what it received.
    Mqtt { client: String, event: String },
    /// A fault a step injected.
    Fault { fault: String },
    /// Harness bookkeeping (a scenario starting, the line being reset).
    Note { text: String },
    /// Why the run failed, stamped when it did: the step that failed (a scenario's step, a
    /// log's line, a check-driver scenario), and the line expected versus the one that came
    /// when there is one. `modem-harness report` highlights it.
    Failure {
        step: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actual: Option<String>,
        detail: String,
    },
}

/// One event, stamped in microseconds since the transcript began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub t_us: u64,
    #[serde(flatten)]
    pub kind: Kind,
    /// The bytes on the wire, as hex (`"41540d0a"`), where they differ from `text` or are
    /// worth seeing: a command with its line end, a module line with its CR LF, a payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
}

#[derive(Debug)]
struct Inner {
    start: Instant,
    events: Vec<Event>,
    /// File-backed: each event goes to disk as it is recorded and nothing is kept
    /// ([`Transcript::streaming`]).
    sink: Option<Sink>,
}

/// Where a file-backed transcript writes: `<stem>.jsonl` and `<stem>.log`, as events come.
#[derive(Debug)]
struct Sink {
    jsonl_path: PathBuf,
    log_path: PathBuf,
    jsonl: BufWriter<File>,
    log: BufWriter<File>,
    vendor: VendorLog,
    /// The time of the last event written (a file cannot take an event out of order).
    last_t_us: u64,
    count: usize,
    /// The first write that failed; the transcript stops writing and [`Transcript::finish`]
    /// reports it.
    error: Option<String>,
}

impl Sink {
    fn push(&mut self, e: &Event) {
        if self.error.is_some() {
            return;
        }
        self.last_t_us = e.t_us;
        self.count += 1;
        let mut text = String::new();
        self.vendor.push(e, &mut text);
        let written = serde_json::to_writer(&mut self.jsonl, e)
            .map_err(std::io::Error::from)
            .and_then(|()| self.jsonl.write_all(b"\n"))
            .and_then(|()| self.log.write_all(text.as_bytes()));
        if let Err(err) = written {
            self.error = Some(format!(
                "writing {} / {}: {err}",
                self.jsonl_path.display(),
                self.log_path.display()
            ));
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(e) = &self.error {
            return Err(std::io::Error::other(e.clone()));
        }
        self.jsonl.flush()?;
        self.log.flush()
    }
}

/// A shared, append-only transcript: the [`crate::device::Device`] and the world's steps write
/// to clones of the same one. In memory ([`Transcript::new`]), or written to disk as it
/// happens ([`Transcript::streaming`], what `replay` uses: a long log's transcript is never
/// held whole).
#[derive(Debug, Clone)]
pub struct Transcript(Arc<Mutex<Inner>>);

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcript {
    pub fn new() -> Self {
        Transcript::starting_at(Instant::now())
    }

    /// A transcript that writes `<stem>.jsonl` and `<stem>.log` into `dir` (created if
    /// needed) event by event, keeping none in memory: its memory does not grow with the run.
    /// [`Transcript::events`] and [`Transcript::to_vendor_log`] read the files back;
    /// [`Transcript::for_each_event`] streams them.
    pub fn streaming(dir: &Path, stem: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let jsonl_path = dir.join(format!("{stem}.jsonl"));
        let log_path = dir.join(format!("{stem}.log"));
        let sink = Sink {
            jsonl: BufWriter::new(File::create(&jsonl_path)?),
            log: BufWriter::new(File::create(&log_path)?),
            jsonl_path,
            log_path,
            vendor: VendorLog::default(),
            last_t_us: 0,
            count: 0,
            error: None,
        };
        Ok(Transcript(Arc::new(Mutex::new(Inner {
            start: Instant::now(),
            events: Vec::new(),
            sink: Some(sink),
        }))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another step panicked; keep recording.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, t_us: Option<u64>, kind: Kind, hex: Option<String>) {
        let mut g = self.lock();
        let t_us = t_us
            .unwrap_or_else(|| u64::try_from(g.start.elapsed().as_micros()).unwrap_or(u64::MAX));
        let event = Event { t_us, kind, hex };
        match &mut g.sink {
            Some(sink) => sink.push(&event),
            None => g.events.push(event),
        }
    }

    pub fn record(&self, kind: Kind) {
        self.push(None, kind, None);
    }

    /// Like [`Transcript::record`], with the bytes that went over the wire.
    pub fn record_raw(&self, kind: Kind, raw: &[u8]) {
        self.push(None, kind, Some(to_hex(raw)));
    }

    /// A transcript whose time 0 is `start` (which may lie in the past).
    pub fn starting_at(start: Instant) -> Self {
        Transcript(Arc::new(Mutex::new(Inner {
            start,
            events: Vec::new(),
            sink: None,
        })))
    }

    /// Records what happened at `at` (e.g. a UART tap's time stamp), kept in time order among
    /// the events already recorded. Before the transcript's start counts as time 0. A
    /// file-backed transcript cannot go back: an event older than the last written one is
    /// written next, stamped with the last one's time.
    pub fn record_at(&self, at: Instant, kind: Kind, raw: Option<&[u8]>) {
        let mut g = self.lock();
        let t_us =
            u64::try_from(at.saturating_duration_since(g.start).as_micros()).unwrap_or(u64::MAX);
        let hex = raw.map(to_hex);
        if let Some(sink) = &mut g.sink {
            let t_us = t_us.max(sink.last_t_us);
            sink.push(&Event { t_us, kind, hex });
            return;
        }
        let i = g.events.partition_point(|e| e.t_us <= t_us);
        g.events.insert(i, Event { t_us, kind, hex });
    }

    /// Moves time 0 back to `at` (when it is earlier), so that what happened before the
    /// transcript began can be added at its own time. (A file-backed transcript's written
    /// events keep their times.)
    pub fn start_earlier(&self, at: Instant) {
        let mut g = self.lock();
        if at < g.start && g.sink.is_none() {
            let shift = u64::try_from((g.start - at).as_micros()).unwrap_or(u64::MAX);
            for e in &mut g.events {
                e.t_us = e.t_us.saturating_add(shift);
            }
            g.start = at;
        }
    }

    /// Names the step of failures recorded without one (a scenario's after hook knows the
    /// error, the runner's report the step). In memory only: a file-backed transcript's
    /// failures are recorded with their step.
    pub fn fill_failure_step(&self, name: &str) {
        let mut g = self.lock();
        for e in &mut g.events {
            if let Kind::Failure { step, .. } = &mut e.kind {
                if step.is_empty() {
                    *step = name.to_string();
                }
            }
        }
    }
    /// Adds what a simulator's UART tap saw (both directions, at the tap's time stamps), split
    /// the way the host reads it: the module's bytes into lines and `>` prompts
    /// ([`crate::device::split_item`]), the host's into lines at CR or LF; the host's first write
    /// after a prompt is the payload ([`Kind::UartTxData`]). Each event keeps its wire bytes.
    pub fn add_uart_tap(&self, records: &[modem_sim::sim::UartRecord]) {
        let mut rx: Vec<u8> = Vec::new();
        let mut tx: Vec<u8> = Vec::new();
        let mut after_prompt = false;
        for r in records {
            if r.dropped > 0 {
                // The simulator's UART lost output the host did not read (no flow control).
                let text = format!(
                    "{} bytes of the module's output lost: the host was not reading",
                    r.dropped
                );
                self.record_at(r.at, Kind::Note { text }, None);
                continue;
            }
            if r.from_host {
                if after_prompt && tx.is_empty() {
                    after_prompt = false;
                    let text = crate::device::show(&r.bytes);
                    let len = r.bytes.len();
                    self.record_at(r.at, Kind::UartTxData { text, len }, Some(&r.bytes));
                    continue;
                }
                tx.extend_from_slice(&r.bytes);
                while let Some(end) = tx.iter().position(|&b| b == b'\r' || b == b'\n') {
                    // CR LF is one line end.
                    let used = if tx[end] == b'\r' && tx.get(end + 1) == Some(&b'\n') {
                        end + 2
                    } else {
                        end + 1
                    };
                    let raw: Vec<u8> = tx.drain(..used).collect();
                    if end > 0 {
                        let text = crate::device::show(&raw[..end]);
                        self.record_at(r.at, Kind::UartTx { text }, Some(&raw));
                    }
                }
            } else {
                rx.extend_from_slice(&r.bytes);
                while let Some((item, used)) = crate::device::split_item(&rx) {
                    let raw: Vec<u8> = rx.drain(..used).collect();
                    let text = match item {
                        // The space after a `> ` prompt, blank lines: nothing to show.
                        crate::device::Item::Line(l) if l.iter().all(u8::is_ascii_whitespace) => {
                            continue
                        }
                        crate::device::Item::Line(l) => crate::device::show(&l),
                        crate::device::Item::Prompt => {
                            after_prompt = true;
                            ">".to_string()
                        }
                    };
                    self.record_at(r.at, Kind::UartRx { text }, Some(&raw));
                }
            }
        }
        // What never got its line end.
        let now = records.last().map(|r| r.at);
        for (buf, host) in [(tx, true), (rx, false)] {
            if let (Some(at), false) = (now, buf.iter().all(|b| b.is_ascii_whitespace())) {
                let text = crate::device::show(&buf);
                let kind = if host {
                    Kind::UartTx { text }
                } else {
                    Kind::UartRx { text }
                };
                self.record_at(at, kind, Some(&buf));
            }
        }
    }

    /// Records why the run failed (see [`Kind::Failure`]).
    pub fn failure(
        &self,
        step: impl Into<String>,
        expected: Option<String>,
        actual: Option<String>,
        detail: impl Into<String>,
    ) {
        self.record(Kind::Failure {
            step: step.into(),
            expected,
            actual,
            detail: detail.into(),
        });
    }

    pub fn mqtt(&self, client: &str, event: impl Into<String>) {
        self.record(Kind::Mqtt {
            client: client.to_string(),
            event: event.into(),
        });
    }

    pub fn fault(&self, fault: impl Into<String>) {
        self.record(Kind::Fault {
            fault: fault.into(),
        });
    }

    pub fn note(&self, text: impl Into<String>) {
        self.record(Kind::Note { text: text.into() });
    }

    /// Every event. A file-backed transcript reads its file back (as much memory as the
    /// run's events: for a long run use [`Transcript::for_each_event`]).
    pub fn events(&self) -> Vec<Event> {
        let mut v = Vec::new();
        // An unreadable file reads as what could be read; `finish` reports the error.
        let _ = self.for_each_event(&mut |e| v.push(e));
        v
    }

    /// Calls `f` with each event in order, without holding them all: a file-backed
    /// transcript is read from its file one line at a time.
    pub fn for_each_event(&self, f: &mut dyn FnMut(Event)) -> std::io::Result<()> {
        let path = {
            let mut g = self.lock();
            match &mut g.sink {
                None => {
                    for e in &g.events {
                        f(e.clone());
                    }
                    return Ok(());
                }
                Some(sink) => {
                    sink.flush()?;
                    sink.jsonl_path.clone()
                }
            }
        };
        for e in read_jsonl(std::io::BufReader::new(File::open(&path)?)) {
            f(e.map_err(std::io::Error::other)?);
        }
        Ok(())
    }

    /// How many events were recorded.
    pub fn len(&self) -> usize {
        let g = self.lock();
        g.sink.as_ref().map_or(g.events.len(), |s| s.count)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The files a file-backed transcript writes (`.jsonl`, `.log`); `None` in memory.
    pub fn files(&self) -> Option<(PathBuf, PathBuf)> {
        let g = self.lock();
        g.sink
            .as_ref()
            .map(|s| (s.jsonl_path.clone(), s.log_path.clone()))
    }

    /// Writes out what a file-backed transcript has buffered; the first write error it met,
    /// if any. (Nothing to do in memory.)
    pub fn finish(&self) -> std::io::Result<()> {
        match &mut self.lock().sink {
            Some(sink) => sink.flush(),
            None => Ok(()),
        }
    }

    /// One JSON object per line.
    pub fn to_jsonl(&self) -> String {
        let mut s = String::new();
        let _ = self.for_each_event(&mut |e| {
            // Serialising plain strings and integers cannot fail.
            s.push_str(&serde_json::to_string(&e).unwrap_or_default());
            s.push('\n');
        });
        s
    }

    /// The vendor-log rendering: what the host sent, then what the module said, one per line.
    /// Echoes of commands and blank lines are left out, as the guides print them.
    pub fn to_vendor_log(&self) -> String {
        let mut out = String::new();
        let mut vendor = VendorLog::default();
        let _ = self.for_each_event(&mut |e| vendor.push(&e, &mut out));
        out
    }

    /// Writes `<stem>.jsonl` and `<stem>.log` into `dir` (created if needed). A file-backed
    /// transcript has written them as it went: it is flushed, and copied when `dir` and
    /// `stem` name other files.
    pub fn write(&self, dir: &Path, stem: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let jsonl = dir.join(format!("{stem}.jsonl"));
        let log = dir.join(format!("{stem}.log"));
        if let Some((from_jsonl, from_log)) = self.files() {
            self.finish()?;
            for (from, to) in [(from_jsonl, jsonl), (from_log, log)] {
                let same =
                    matches!((from.canonicalize(), to.canonicalize()), (Ok(a), Ok(b)) if a == b);
                if !same {
                    std::fs::copy(&from, &to)?;
                }
            }
            return Ok(());
        }
        std::fs::write(jsonl, self.to_jsonl())?;
        std::fs::write(log, self.to_vendor_log())?;
        Ok(())
    }
}

/// The vendor-log rendering, one event at a time (what [`render_vendor_log`] and a
/// file-backed transcript's `.log` both use). An echo is recognised as the guides' readers do:
/// a module line equal to a command sent and not yet echoed (of the last eight).
#[derive(Debug, Default)]
pub struct VendorLog {
    pending_echo: VecDeque<String>,
}

impl VendorLog {
    /// Appends `e`'s line(s) to `out` (nothing for an echo or a blank line).
    pub fn push(&mut self, e: &Event, out: &mut String) {
        match &e.kind {
            Kind::UartTx { text } => {
                self.pending_echo.push_back(text.clone());
                if self.pending_echo.len() > 8 {
                    self.pending_echo.pop_front();
                }
                out.push_str(text);
                out.push('\n');
            }
            Kind::UartTxData { text, .. } => {
                out.push_str(text);
                out.push('\n');
            }
            Kind::UartRx { text } => {
                if text.trim().is_empty() {
                    return;
                }
                if let Some(i) = self.pending_echo.iter().position(|c| c == text) {
                    self.pending_echo.drain(..=i);
                    return;
                }
                out.push_str(text);
                out.push('\n');
            }
            Kind::Mqtt { client, event } => {
                out.push_str(&format!("// mqtt {client}: {event}\n"));
            }
            Kind::Fault { fault } => out.push_str(&format!("// fault: {fault}\n")),
            Kind::Note { text } => out.push_str(&format!("// {text}\n")),
            Kind::Failure { step, detail, .. } => {
                let detail = detail.lines().next().unwrap_or_default();
                out.push_str(&format!("// failed: {step}: {detail}\n"));
            }
        }
    }
}

/// Renders events in the vendor-log format ([`VendorLog`]).
pub fn render_vendor_log(events: &[Event]) -> String {
    let mut out = String::new();
    let mut vendor = VendorLog::default();
    for e in events {
        vendor.push(e, &mut out);
    }
    out
}

/// Lowercase hex, two digits a byte, no separators.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The bytes of [`to_hex`]'s output (or of any hex digits, either case: the simulator's own
/// decoder); `None` when it is not hex.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    modem_sim::dialect::params::unhex(hex.as_bytes())
}

/// Reads a JSONL transcript (as [`Transcript::to_jsonl`] writes it). Blank lines are skipped;
/// an event of a kind this version does not know becomes a [`Kind::Note`] showing its JSON, so
/// newer transcripts still render. A line that is not a JSON object with a `t_us` is an error
/// naming the line.
pub fn parse_jsonl(text: &str) -> Result<Vec<Event>, String> {
    read_jsonl(text.as_bytes()).collect()
}

/// [`parse_jsonl`], one line at a time from a reader: a transcript of any length is read in
/// the memory of one event. An error (a line that is no event, or the reader's) ends it.
pub fn read_jsonl(reader: impl BufRead) -> impl Iterator<Item = Result<Event, String>> {
    let mut lines = reader.lines().enumerate();
    let mut failed = false;
    std::iter::from_fn(move || loop {
        if failed {
            return None;
        }
        let (i, line) = lines.next()?;
        let parsed = line
            .map_err(|e| format!("line {}: cannot read it ({e})", i + 1))
            .and_then(|line| jsonl_event(i + 1, &line));
        match parsed {
            Ok(None) => continue,
            Ok(Some(e)) => return Some(Ok(e)),
            Err(e) => {
                failed = true;
                return Some(Err(e));
            }
        }
    })
}

/// One line of a JSONL transcript: `None` when it is blank.
fn jsonl_event(no: usize, line: &str) -> Result<Option<Event>, String> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("line {no}: not JSON ({e})"))?;
    let Some(t_us) = value.get("t_us").and_then(serde_json::Value::as_u64) else {
        return Err(format!(
            "line {no}: an event needs a `t_us` (microseconds, a non-negative integer)"
        ));
    };
    Ok(Some(match serde_json::from_value::<Event>(value) {
        Ok(e) => e,
        Err(_) => Event {
            t_us,
            kind: Kind::Note {
                text: format!("(an event this version cannot read) {line}"),
            },
            hex: None,
        },
    }))
}

/// Makes a rendering stable across runs: tty paths, loopback ports and process ids become
/// placeholders. Each `(from, to)` in `extra` is replaced first (a broker address, say).
pub fn normalise(text: &str, extra: &[(String, String)]) -> String {
    let mut s = text.to_string();
    for (from, to) in extra {
        if !from.is_empty() {
            s = s.replace(from.as_str(), to);
        }
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/dev/pts/") {
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            out.push_str("<tty>");
            rest = &after[n..];
        } else if let Some(after) = rest.strip_prefix("127.0.0.1:") {
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            out.push_str("127.0.0.1:<port>");
            rest = &after[n..];
        } else if let Some(after) = rest.strip_prefix("harness-") {
            // Broker-side client ids: harness-<name>-<pid>.
            out.push_str("harness-");
            let name = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            out.push_str(&after[..name]);
            let tail = &after[name..];
            match tail.strip_prefix('-') {
                Some(t) if t.bytes().next().is_some_and(|b| b.is_ascii_digit()) => {
                    let n = t.bytes().take_while(u8::is_ascii_digit).count();
                    out.push_str("-<pid>");
                    rest = &t[n..];
                }
                _ => rest = tail,
            }
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: Kind) -> Event {
        Event {
            t_us: 7,
            kind,
            hex: None,
        }
    }

    #[test]
    fn vendor_log_drops_echo_and_blank_lines() {
        let events = vec![
            ev(Kind::UartTx { text: "ATI".into() }),
            ev(Kind::UartRx { text: "ATI".into() }),
            ev(Kind::UartRx { text: "".into() }),
            ev(Kind::UartRx {
                text: "AirM2M_780E_V1169_LTE_AT".into(),
            }),
            ev(Kind::UartRx { text: "OK".into() }),
            ev(Kind::Mqtt {
                client: "tool".into(),
                event: "publish \"t\" \"x\"".into(),
            }),
            ev(Kind::UartRx { text: "ATI".into() }),
            ev(Kind::Fault {
                fault: "pdn-deact".into(),
            }),
        ];
        assert_eq!(
            render_vendor_log(&events),
            "ATI\nAirM2M_780E_V1169_LTE_AT\nOK\n// mqtt tool: publish \"t\" \"x\"\nATI\n// fault: pdn-deact\n",
            "a second ATI line is not an echo: only one was sent"
        );
    }

    #[test]
    fn jsonl_has_time_kind_and_text() {
        let t = Transcript::new();
        t.record(Kind::UartTx { text: "AT".into() });
        t.fault("pdn-deact");
        let jsonl = t.to_jsonl();
        let lines: Vec<serde_json::Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["kind"], "uart_tx");
        assert_eq!(lines[0]["text"], "AT");
        assert!(lines[0]["t_us"].is_u64());
        assert_eq!(lines[1]["kind"], "fault");
        assert!(lines[1]["t_us"].as_u64() >= lines[0]["t_us"].as_u64());
    }

    #[test]
    fn jsonl_round_trips_and_unknown_kinds_become_notes() {
        let t = Transcript::new();
        t.record_raw(Kind::UartTx { text: "AT".into() }, b"AT\r\n");
        t.failure("step", Some("OK".into()), None, "why");
        let mut text = t.to_jsonl();
        text.push_str("{\"t_us\":9,\"kind\":\"future_thing\",\"x\":1}\n\n");
        let events = parse_jsonl(&text).unwrap();
        assert_eq!(&events[..2], &t.events()[..]);
        assert_eq!(events[0].hex.as_deref(), Some("41540d0a"));
        assert!(matches!(&events[2].kind, Kind::Note { text } if text.contains("future_thing")));
        let err =
            parse_jsonl("{\"t_us\":1,\"kind\":\"note\",\"text\":\"a\"}\nnot json").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(parse_jsonl("{\"kind\":\"note\"}")
            .unwrap_err()
            .contains("t_us"));
    }

    #[test]
    fn a_uart_tap_becomes_lines_prompts_and_payloads() {
        use modem_sim::sim::UartRecord;
        let t0 = Instant::now();
        let rec = |ms: u64, from_host: bool, bytes: &[u8]| UartRecord {
            at: t0 + std::time::Duration::from_millis(ms),
            from_host,
            bytes: bytes.to_vec(),
            dropped: 0,
        };
        let records = [
            rec(1, true, b"AT+MQTTPUB=0,\"t\",0,0,3\r\n"),
            rec(2, false, b"AT+MQTTPUB=0,\"t\",0,0,3\r\r\n"),
            rec(3, false, b"> "),
            rec(4, true, b"\x00\x01\r"),
            rec(5, false, b"\r\nO"),
            rec(6, false, b"K\r\n"),
            rec(7, true, b"AT\rATI\n"),
        ];
        let t = Transcript::starting_at(t0 + std::time::Duration::from_millis(5));
        t.note("five");
        t.start_earlier(t0);
        t.add_uart_tap(&records);
        assert!(
            matches!(t.events()[4].kind, Kind::Note { .. }),
            "between 4 and 6 ms"
        );
        assert!((5000..6000).contains(&t.events()[4].t_us));
        let t = Transcript::starting_at(t0);
        t.add_uart_tap(&records);
        let ev = t.events();
        let kinds: Vec<(u64, &Kind)> = ev.iter().map(|e| (e.t_us, &e.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (
                    1000,
                    &Kind::UartTx {
                        text: "AT+MQTTPUB=0,\"t\",0,0,3".into()
                    }
                ),
                (
                    2000,
                    &Kind::UartRx {
                        text: "AT+MQTTPUB=0,\"t\",0,0,3".into()
                    }
                ),
                (3000, &Kind::UartRx { text: ">".into() }),
                (
                    4000,
                    &Kind::UartTxData {
                        text: "\\0\\u{1}\\r".into(),
                        len: 3
                    }
                ),
                (6000, &Kind::UartRx { text: "OK".into() }),
                (7000, &Kind::UartTx { text: "AT".into() }),
                (7000, &Kind::UartTx { text: "ATI".into() }),
            ]
        );
        assert_eq!(
            ev[0].hex.as_deref(),
            Some(&*to_hex(b"AT+MQTTPUB=0,\"t\",0,0,3\r\n"))
        );
        assert_eq!(ev[3].hex.as_deref(), Some("00010d"));
    }

    #[test]
    fn a_streaming_transcript_writes_as_it_goes_and_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mem = Transcript::new();
        let disk = Transcript::streaming(&dir.path().join("sub"), "s").unwrap();
        for t in [&mem, &disk] {
            t.record_raw(Kind::UartTx { text: "ATI".into() }, b"ATI\r\n");
            t.record(Kind::UartRx { text: "ATI".into() });
            t.record(Kind::UartRx { text: "OK".into() });
            t.fault("pdn-deact");
            t.failure("s:3", Some("OK".into()), None, "why\nmore");
        }
        assert_eq!(disk.len(), 5);
        let (jsonl, log) = disk.files().unwrap();
        // Nothing is kept in memory: what is read back comes from the files.
        assert!(disk.lock().events.is_empty());
        disk.finish().unwrap();
        let strip = |v: Vec<Event>| -> Vec<(Kind, Option<String>)> {
            v.into_iter().map(|e| (e.kind, e.hex)).collect()
        };
        assert_eq!(strip(disk.events()), strip(mem.events()));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), mem.to_vendor_log());
        assert_eq!(disk.to_vendor_log(), mem.to_vendor_log());
        assert_eq!(
            parse_jsonl(&std::fs::read_to_string(&jsonl).unwrap())
                .unwrap()
                .len(),
            5
        );
        // `write` into its own directory leaves the files; elsewhere it copies them.
        disk.write(&dir.path().join("sub"), "s").unwrap();
        disk.write(dir.path(), "copy").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("copy.log")).unwrap(),
            std::fs::read(&log).unwrap()
        );
    }

    #[test]
    fn read_jsonl_stops_at_the_first_bad_line() {
        let text = "{\"t_us\":1,\"kind\":\"note\",\"text\":\"a\"}\n\nnope\n{\"t_us\":2,\"kind\":\"note\",\"text\":\"b\"}\n";
        let got: Vec<Result<Event, String>> = read_jsonl(text.as_bytes()).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].is_ok());
        assert!(got[1].as_ref().unwrap_err().starts_with("line 3:"));
    }

    #[test]
    fn normalising() {
        assert_eq!(
            normalise(
                "open /dev/pts/17 at 127.0.0.1:40213 as harness-tool-4242, harness-x",
                &[]
            ),
            "open <tty> at 127.0.0.1:<port> as harness-tool-<pid>, harness-x"
        );
        assert_eq!(
            normalise(
                "AT+MIPSTART=\"10.0.0.5\",1883",
                &[("10.0.0.5".into(), "<broker>".into())]
            ),
            "AT+MIPSTART=\"<broker>\",1883"
        );
        assert_eq!(normalise("数据 //", &[]), "数据 //");
    }
}
