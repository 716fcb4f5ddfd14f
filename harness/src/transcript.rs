//! Transcripts: everything that happened on the UART (both directions, as the host saw it),
//! broker-side MQTT client events and injected faults, with time stamps.
//!
//! Written as JSONL (one event per line, for tools) and rendered in the vendor-log format the
//! guides print (AT lines, then the module's lines; MQTT events and faults as `//` comments), so
//! a transcript of a real module can be read side by side with the guide, or replayed.
//! [`normalise`] drops what changes from run to run (time stamps, ports, tty paths, process
//! ids), which is what the insta snapshots pin.

use std::collections::VecDeque;
use std::path::Path;
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
}

/// A shared, append-only transcript: the [`crate::device::Device`] and the world's steps write
/// to clones of the same one.
#[derive(Debug, Clone)]
pub struct Transcript(Arc<Mutex<Inner>>);

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcript {
    pub fn new() -> Self {
        Transcript(Arc::new(Mutex::new(Inner {
            start: Instant::now(),
            events: Vec::new(),
        })))
    }

    pub fn record(&self, kind: Kind) {
        // A poisoned lock only means another step panicked; keep recording.
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let t_us = u64::try_from(g.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        g.events.push(Event {
            t_us,
            kind,
            hex: None,
        });
    }

    /// Like [`Transcript::record`], with the bytes that went over the wire.
    pub fn record_raw(&self, kind: Kind, raw: &[u8]) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let t_us = u64::try_from(g.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        g.events.push(Event {
            t_us,
            kind,
            hex: Some(to_hex(raw)),
        });
    }

    /// A transcript whose time 0 is `start` (which may lie in the past).
    pub fn starting_at(start: Instant) -> Self {
        Transcript(Arc::new(Mutex::new(Inner {
            start,
            events: Vec::new(),
        })))
    }

    /// Records what happened at `at` (e.g. a UART tap's time stamp), kept in time order among
    /// the events already recorded. Before the transcript's start counts as time 0.
    pub fn record_at(&self, at: Instant, kind: Kind, raw: Option<&[u8]>) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let t_us =
            u64::try_from(at.saturating_duration_since(g.start).as_micros()).unwrap_or(u64::MAX);
        let i = g.events.partition_point(|e| e.t_us <= t_us);
        g.events.insert(
            i,
            Event {
                t_us,
                kind,
                hex: raw.map(to_hex),
            },
        );
    }

    /// Moves time 0 back to `at` (when it is earlier), so that what happened before the
    /// transcript began can be added at its own time.
    pub fn start_earlier(&self, at: Instant) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if at < g.start {
            let shift = u64::try_from((g.start - at).as_micros()).unwrap_or(u64::MAX);
            for e in &mut g.events {
                e.t_us = e.t_us.saturating_add(shift);
            }
            g.start = at;
        }
    }

    /// Names the step of failures recorded without one (a scenario's after hook knows the
    /// error, the runner's report the step).
    pub fn fill_failure_step(&self, name: &str) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
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

    pub fn events(&self) -> Vec<Event> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .clone()
    }

    /// One JSON object per line.
    pub fn to_jsonl(&self) -> String {
        let mut s = String::new();
        for e in self.events() {
            // Serialising plain strings and integers cannot fail.
            s.push_str(&serde_json::to_string(&e).unwrap_or_default());
            s.push('\n');
        }
        s
    }

    /// The vendor-log rendering: what the host sent, then what the module said, one per line.
    /// Echoes of commands and blank lines are left out, as the guides print them.
    pub fn to_vendor_log(&self) -> String {
        render_vendor_log(&self.events())
    }

    /// Writes `<stem>.jsonl` and `<stem>.log` into `dir` (created if needed).
    pub fn write(&self, dir: &Path, stem: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(format!("{stem}.jsonl")), self.to_jsonl())?;
        std::fs::write(dir.join(format!("{stem}.log")), self.to_vendor_log())?;
        Ok(())
    }
}

/// Renders events in the vendor-log format. An echo is recognised as the guides' readers do:
/// a module line equal to a command sent and not yet echoed.
pub fn render_vendor_log(events: &[Event]) -> String {
    let mut out = String::new();
    let mut pending_echo: VecDeque<&str> = VecDeque::new();
    for e in events {
        match &e.kind {
            Kind::UartTx { text } => {
                pending_echo.push_back(text);
                if pending_echo.len() > 8 {
                    pending_echo.pop_front();
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
                    continue;
                }
                if let Some(i) = pending_echo.iter().position(|c| *c == text) {
                    pending_echo.drain(..=i);
                    continue;
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

/// The bytes of [`to_hex`]'s output; `None` when it is not hex.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Reads a JSONL transcript (as [`Transcript::to_jsonl`] writes it). Blank lines are skipped;
/// an event of a kind this version does not know becomes a [`Kind::Note`] showing its JSON, so
/// newer transcripts still render. A line that is not a JSON object with a `t_us` is an error
/// naming the line.
pub fn parse_jsonl(text: &str) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: not JSON ({e})", i + 1))?;
        let Some(t_us) = value.get("t_us").and_then(serde_json::Value::as_u64) else {
            return Err(format!(
                "line {}: an event needs a `t_us` (microseconds, a non-negative integer)",
                i + 1
            ));
        };
        let event = match serde_json::from_value::<Event>(value.clone()) {
            Ok(e) => e,
            Err(_) => Event {
                t_us,
                kind: Kind::Note {
                    text: format!("(an event this version cannot read) {line}"),
                },
                hex: None,
            },
        };
        events.push(event);
    }
    Ok(events)
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
