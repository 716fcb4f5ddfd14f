//! The one test rig for every dialect: an [`Engine`] fed bytes, with network events faked and
//! its effects collected. Each dialect's `tests.rs` adds its own set-ups (`connected`, `open`,
//! ...) in an `impl Rig` block of its own; `prompts.rs` runs the timers in paused time.

use crate::dialect::malformed_table::MalformedCase;
use crate::dialect::{make, Dialect, DialectKind, Effect, Engine};
use crate::modem::Identity;
use crate::net::{LinkId, MqttOp, NetEvent, NetEventKind, NetRequest, TlsOptions};

pub(crate) struct Rig {
    pub engine: Engine,
    /// Every UART byte so far.
    pub uart: Vec<u8>,
    /// Every network request so far.
    pub net: Vec<NetRequest>,
    /// Every timer asked for so far (the test fires them with [`Rig::fire`]).
    pub timers: Vec<(u64, std::time::Duration)>,
}

impl Rig {
    /// A fresh module of `kind` with the default identity, echo off.
    pub fn new(kind: DialectKind) -> Self {
        Rig::with(make(kind, Identity::default()).expect("a built-in dialect"))
    }

    pub fn with(dialect: Box<dyn Dialect>) -> Self {
        Rig {
            engine: Engine::new(dialect, false),
            uart: vec![],
            net: vec![],
            timers: vec![],
        }
    }

    /// Collects `effects`; returns their UART text.
    pub fn take(&mut self, effects: Vec<Effect>) -> String {
        let mut text = Vec::new();
        for e in effects {
            match e {
                Effect::Uart(b) => text.extend(b),
                Effect::Net(r) => self.net.push(r),
                Effect::Timer { id, after } => self.timers.push((id, after)),
                Effect::Baud(_) => {}
            }
        }
        self.uart.extend(&text);
        String::from_utf8_lossy(&text).into_owned()
    }

    /// One command line, ended with `\r`.
    pub fn send(&mut self, line: &str) -> String {
        self.raw(format!("{line}\r").as_bytes())
    }

    /// Bytes as they come (prompted data, several lines, odd line ends).
    pub fn raw(&mut self, bytes: &[u8]) -> String {
        let fx = self.engine.feed(bytes);
        self.take(fx)
    }

    pub fn event_on(&mut self, link: LinkId, kind: NetEventKind) -> String {
        let fx = self.engine.net_event(NetEvent { link, kind });
        self.take(fx)
    }

    /// A network event on the link opened last.
    pub fn event(&mut self, kind: NetEventKind) -> String {
        let link = self.last_link();
        self.event_on(link, kind)
    }

    /// Timer `id` expires.
    pub fn fire(&mut self, id: u64) -> String {
        let fx = self.engine.timer(id);
        self.take(fx)
    }

    pub fn last_link(&self) -> LinkId {
        self.net
            .iter()
            .rev()
            .find_map(|r| match r {
                NetRequest::Open { link, .. } => Some(*link),
                _ => None,
            })
            .unwrap_or(0)
    }

    pub fn last_op(&self) -> Option<&MqttOp> {
        self.net.iter().rev().find_map(|r| match r {
            NetRequest::Mqtt { op, .. } => Some(op),
            _ => None,
        })
    }

    /// The TLS settings of the link opened last, if it is a TLS one.
    pub fn last_tls(&self) -> Option<TlsOptions> {
        self.net.iter().rev().find_map(|r| match r {
            NetRequest::Open { tls, .. } => Some(tls.clone()),
            _ => None,
        })?
    }

    /// Every payload published so far, in order.
    pub fn published(&self) -> Vec<Vec<u8>> {
        self.net
            .iter()
            .filter_map(|n| match n {
                NetRequest::Mqtt {
                    op: MqttOp::Publish { payload, .. },
                    ..
                } => Some(payload.to_vec()),
                _ => None,
            })
            .collect()
    }

    /// The will payload of the last CONNECT, if it had one.
    pub fn will(&self) -> Option<Vec<u8>> {
        self.net.iter().rev().find_map(|r| match r {
            NetRequest::Mqtt {
                op: MqttOp::Connect(p),
                ..
            } => Some(p.will.as_ref()?.payload.to_vec()),
            _ => None,
        })
    }
}

/// Runs a malformed-input table (`fixtures/malformed/<dialect>.tsv`): each row from a fresh
/// module brought to the row's state by `setup`, its answer compared byte for byte, then `AT`
/// must still answer `OK`. Panics listing every row that differs.
pub(crate) fn malformed_table(
    kind: DialectKind,
    table: &str,
    setup: fn(&mut Rig, &MalformedCase),
) -> usize {
    let cases = crate::dialect::malformed_table::malformed_cases(table);
    assert!(cases.len() >= 100, "the table has {} cases", cases.len());
    let mut bad = Vec::new();
    for case in &cases {
        let mut r = Rig::new(kind);
        setup(&mut r, case);
        let got = r.raw(&case.input);
        if got.as_bytes() != &case.expected[..] {
            bad.push(format!(
                "{}: {:?} answered {got:?}, expected {:?}",
                case.why,
                String::from_utf8_lossy(&case.input[..case.input.len().min(80)]),
                String::from_utf8_lossy(&case.expected)
            ));
        }
        let at = r.send("AT");
        if at != "\r\nOK\r\n" {
            bad.push(format!("AT after {}: {at:?}", case.why));
        }
    }
    assert!(
        bad.is_empty(),
        "{} rows differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
    cases.len()
}

/// Checks that every command of a dialect's table has a row in the README's command table
/// `section` (its heading) and at least one row in its malformed-input table: a command
/// written as a unit is documented and attacked in the same change. A basic command may be
/// followed by its number (`ATE0`); an extended one by a form or the line's end.
pub(crate) fn documented<D>(
    table: &[crate::dialect::commands::Cmd<D>],
    section: &str,
    malformed: &str,
) {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find(&format!("{section}\n"))
        .unwrap_or_else(|| panic!("README has no heading {section:?}"));
    let body = &readme[start + section.len()..];
    let body = &body[..body.find("\n#").unwrap_or(body.len())];
    let inputs: Vec<Vec<u8>> = crate::dialect::malformed_table::malformed_cases(malformed)
        .into_iter()
        .map(|c| c.input)
        .collect();
    // `AT<name>` not followed by what would make it another command's name.
    let names = |text: &[u8], name: &str, at: usize| -> bool {
        let word = format!("AT{name}");
        text[at..].starts_with(word.as_bytes())
            && text.get(at + word.len()).is_none_or(|&c| {
                let extended = name.starts_with(['+', '*']);
                !(c.is_ascii_uppercase() || (extended && c.is_ascii_digit()) || c == b'&')
            })
    };
    let mut missing = Vec::new();
    for cmd in table {
        let b = body.as_bytes();
        if !(0..b.len()).any(|i| names(b, cmd.name, i)) {
            missing.push(format!("AT{}: no README row under {section:?}", cmd.name));
        }
        // A command line of the input: its first, or one after a line end.
        let in_input = |input: &Vec<u8>| {
            (0..input.len())
                .filter(|&i| i == 0 || matches!(input[i - 1], b'\r' | b'\n'))
                .any(|i| names(input, cmd.name, i))
        };
        if !inputs.iter().any(in_input) {
            missing.push(format!("AT{}: no malformed-input row", cmd.name));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
