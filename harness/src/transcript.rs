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

use serde::Serialize;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

/// One event, stamped in microseconds since the transcript began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub t_us: u64,
    #[serde(flatten)]
    pub kind: Kind,
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
        g.events.push(Event { t_us, kind });
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
        }
    }
    out
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
        Event { t_us: 7, kind }
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
