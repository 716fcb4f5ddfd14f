//! Dialects: what a given module answers to a command, byte for byte.
//!
//! A dialect is pure: it gets a parsed [`Command`], prompted data or a [`NetEvent`], and
//! writes its answer into [`Out`]. The [`Engine`] ties it to the [`Framer`].

pub mod air780e;
pub mod l610;
pub mod params;
#[cfg(test)]
mod props;
pub mod v250;

use std::fmt;
use std::str::FromStr;

use crate::at::{parse_line, Command, Frame, Framer};
use crate::net::{NetEvent, NetRequest};

/// The module families the simulator can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialectKind {
    #[default]
    Air780e,
    L610,
}

impl FromStr for DialectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "air780e" => Ok(DialectKind::Air780e),
            "l610" => Ok(DialectKind::L610),
            other => Err(format!("unknown dialect `{other}`: use air780e or l610")),
        }
    }
}

impl fmt::Display for DialectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DialectKind::Air780e => "air780e",
            DialectKind::L610 => "l610",
        })
    }
}

/// Something the engine's owner must carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Bytes for the UART.
    Uart(Vec<u8>),
    Net(NetRequest),
    /// Call [`Engine::timer`] with `id` once `after` has passed (a prompt's input timeout,
    /// for instance). A dialect ignores ids it no longer waits for, so timers are never
    /// cancelled.
    Timer {
        id: u64,
        after: std::time::Duration,
    },
}

/// A dialect's answer under construction. Text helpers add the module's `\r\n` framing.
#[derive(Debug, Default)]
pub struct Out {
    effects: Vec<Effect>,
    echo: Option<bool>,
    prompt: Option<usize>,
    cancel_prompt: bool,
    /// Output to show after a step's delay (see [`Out::later`]).
    later: Vec<(crate::timing::Step, Vec<Effect>)>,
}

impl Out {
    pub fn raw(&mut self, bytes: &[u8]) {
        match self.effects.last_mut() {
            Some(Effect::Uart(b)) => b.extend_from_slice(bytes),
            _ => self.effects.push(Effect::Uart(bytes.to_vec())),
        }
    }

    /// An information line or URC: `\r\n<line>\r\n`.
    pub fn line(&mut self, line: impl AsRef<[u8]>) {
        self.raw(b"\r\n");
        self.raw(line.as_ref());
        self.raw(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.line("OK");
    }

    pub fn error(&mut self) {
        self.line("ERROR");
    }

    pub fn net(&mut self, req: NetRequest) {
        self.effects.push(Effect::Net(req));
    }

    pub fn set_echo(&mut self, on: bool) {
        self.echo = Some(on);
    }

    /// Enters data mode: the next `len` bytes from the host are one [`Dialect::on_data`].
    pub fn expect_data(&mut self, len: usize) {
        self.prompt = Some(len);
    }

    /// Leaves data mode without the bytes: a prompt that timed out. What arrived is dropped.
    pub fn cancel_data(&mut self) {
        self.cancel_prompt = true;
    }

    /// Asks for [`Dialect::on_timer`] with `id` after `after`.
    pub fn timer(&mut self, id: u64, after: std::time::Duration) {
        self.effects.push(Effect::Timer { id, after });
    }

    /// Output that a real module shows only after `step` has taken its time (the L610's
    /// `+MIPCALL: <ip>` after its `OK`). Under a timing profile it goes out after the step's
    /// delay, in order with everything else held back; without one, at once.
    pub fn later(&mut self, step: crate::timing::Step, f: impl FnOnce(&mut Out)) {
        let mut o = Out::default();
        f(&mut o);
        self.later.push((step, o.effects));
    }

    /// Everything, the late output last (for callers without a timing profile).
    pub fn into_effects(mut self) -> Vec<Effect> {
        for (_, fx) in std::mem::take(&mut self.later) {
            self.effects.extend(fx);
        }
        self.effects
    }

    /// The bytes written to the UART so far (tests).
    pub fn uart_bytes(&self) -> Vec<u8> {
        self.effects
            .iter()
            .chain(self.later.iter().flat_map(|(_, fx)| fx.iter()))
            .filter_map(|e| match e {
                Effect::Uart(b) => Some(b.as_slice()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }
}

/// A module family's command set and its reactions to the network.
pub trait Dialect: Send {
    /// Unsolicited output at power-on.
    fn boot(&mut self, _out: &mut Out) {}
    fn on_command(&mut self, cmd: Command, out: &mut Out);
    /// A line the module could not parse (no `AT` prefix, bad syntax) or that overflowed.
    fn on_garbage(&mut self, out: &mut Out) {
        out.error();
    }
    /// The bytes that followed a `>` prompt.
    fn on_data(&mut self, data: Vec<u8>, out: &mut Out);
    fn on_net(&mut self, ev: NetEvent, out: &mut Out);
    /// A fault injected from outside.
    fn on_fault(&mut self, fault: &crate::modem::Fault, out: &mut Out);
    /// A timer asked for with [`Out::timer`] has expired.
    fn on_timer(&mut self, _id: u64, _out: &mut Out) {}
}

/// A framer and a dialect: the whole modem minus its I/O.
pub struct Engine {
    framer: Framer,
    dialect: Box<dyn Dialect>,
    /// The timing profile's scheduler; `None`: everything at once (profile `fast`).
    timing: Option<crate::timing::Scheduler>,
}

impl Engine {
    pub fn new(dialect: Box<dyn Dialect>, echo: bool) -> Self {
        Engine {
            framer: Framer::new(echo, crate::at::framer::DEFAULT_MAX_LINE),
            dialect,
            timing: None,
        }
    }

    /// Takes the time `sampler`'s profile says: network events and late output are held back
    /// by its delays (with [`Effect::Timer`]s that must come back to [`Engine::timer`]). A
    /// profile without delays changes nothing.
    pub fn set_timing(&mut self, sampler: crate::timing::Sampler) {
        self.timing = (!sampler.profile().delays.is_empty()
            && sampler
                .profile()
                .delays
                .values()
                .any(|d| d.median_ms + d.spread_ms > 0))
        .then(|| crate::timing::Scheduler::new(sampler));
    }

    pub fn boot(&mut self) -> Vec<Effect> {
        let mut out = Out::default();
        out.later(crate::timing::Step::Boot, |o| {
            self.dialect.boot(o);
        });
        self.finish(out)
    }

    /// The effects of `out`, its late output scheduled (or inline without a profile).
    fn finish(&mut self, mut out: Out) -> Vec<Effect> {
        let Some(t) = self.timing.as_mut() else {
            return out.into_effects();
        };
        let later = std::mem::take(&mut out.later);
        t.observe(&out.effects);
        let mut effects = t.requests(out.effects);
        for (step, fx) in later {
            t.observe(&fx);
            match t.output(step, fx) {
                Ok(timer) => effects.push(timer),
                Err(fx) => effects.extend(fx),
            }
        }
        effects
    }

    /// Bytes from the host. Returns echo, answers and network requests, in order.
    pub fn feed(&mut self, mut input: &[u8]) -> Vec<Effect> {
        let mut out = Out::default();
        loop {
            let mut echo = Vec::new();
            let frame = self.framer.next_frame(&mut input, &mut echo);
            if !echo.is_empty() {
                out.raw(&echo);
            }
            let Some(frame) = frame else { break };
            match frame {
                Frame::Line(line) => match parse_line(&line) {
                    Ok(cmd) => {
                        tracing::debug!(line = %String::from_utf8_lossy(&line), "command");
                        self.dialect.on_command(cmd, &mut out)
                    }
                    Err(e) => {
                        tracing::debug!(line = %String::from_utf8_lossy(&line), error = %e, "unparsable line");
                        self.dialect.on_garbage(&mut out)
                    }
                },
                Frame::Overflow => {
                    tracing::warn!("command line longer than the module's buffer");
                    self.dialect.on_garbage(&mut out)
                }
                Frame::Data(data) => self.dialect.on_data(data, &mut out),
            }
            self.apply_controls(&mut out);
        }
        self.finish(out)
    }

    /// An event from the network. Under a timing profile it may be held back (the answer is
    /// then a timer, and the event reaches the dialect when it fires).
    pub fn net_event(&mut self, ev: NetEvent) -> Vec<Effect> {
        let ev = match self.timing.as_mut() {
            None => ev,
            Some(t) => match t.net_event(ev) {
                crate::timing::Admit::Now(ev) => ev,
                crate::timing::Admit::Later(timer) => return vec![timer],
            },
        };
        let mut out = Out::default();
        self.dialect.on_net(ev, &mut out);
        self.apply_controls(&mut out);
        self.finish(out)
    }

    pub fn fault(&mut self, fault: &crate::modem::Fault) -> Vec<Effect> {
        let mut out = Out::default();
        self.dialect.on_fault(fault, &mut out);
        self.apply_controls(&mut out);
        self.finish(out)
    }

    /// A timer the dialect (or the timing scheduler) asked for (see [`Effect::Timer`]) has
    /// expired.
    pub fn timer(&mut self, id: u64) -> Vec<Effect> {
        if crate::timing::Scheduler::owns(id) {
            let due = self.timing.as_mut().map(|t| t.due()).unwrap_or_default();
            let mut effects = Vec::new();
            for item in due {
                match item {
                    Ok(ev) => {
                        let mut out = Out::default();
                        self.dialect.on_net(ev, &mut out);
                        self.apply_controls(&mut out);
                        effects.extend(self.finish(out));
                    }
                    // Released as they were held (already scheduled once).
                    Err(fx) => effects.extend(fx),
                }
            }
            return effects;
        }
        let mut out = Out::default();
        self.dialect.on_timer(id, &mut out);
        self.apply_controls(&mut out);
        self.finish(out)
    }

    /// The timing profile in force, if it has delays.
    pub fn timing(&self) -> Option<&crate::timing::Profile> {
        self.timing.as_ref().map(|t| t.profile())
    }

    fn apply_controls(&mut self, out: &mut Out) {
        if std::mem::take(&mut out.cancel_prompt) {
            let dropped = self.framer.cancel_data();
            tracing::info!(bytes = dropped.len(), "data prompt abandoned");
        }
        if let Some(on) = out.echo.take() {
            self.framer.set_echo(on);
        }
        if let Some(len) = out.prompt.take() {
            self.framer.expect_data(len);
        }
    }
}

/// Makes the dialect for `kind`.
pub fn make(
    kind: DialectKind,
    identity: crate::modem::Identity,
) -> Result<Box<dyn Dialect>, String> {
    match kind {
        DialectKind::Air780e => Ok(Box::new(air780e::Air780e::new(identity))),
        DialectKind::L610 => Ok(Box::new(l610::L610::new(identity))),
    }
}

/// The malformed-input tables' reader, shared by each dialect's table test (and, by path, the
/// end-to-end tests).
#[cfg(test)]
#[path = "../../tests/support/malformed.rs"]
pub(crate) mod malformed_table;
