//! Dialects: what a given module answers to a command, byte for byte.
//!
//! A dialect is pure: it gets a parsed [`Command`], prompted data or a [`NetEvent`], and
//! writes its answer into [`Out`]. The [`Engine`] ties it to the [`Framer`].

pub mod air780e;
pub mod commands;
pub mod host;
pub mod l610;
pub mod params;
pub mod pending;
#[cfg(test)]
mod prompts;
#[cfg(test)]
mod props;
#[cfg(test)]
pub(crate) mod rig;
pub mod standard;
pub mod v250;

use crate::at::{parse_line, Cancel, Command, Frame, Framer};
use crate::net::{NetEvent, NetRequest};

pub use crate::effect::Effect;
pub use crate::modem::DialectKind;

/// A dialect's answer under construction. Text helpers add the module's `\r\n` framing.
#[derive(Debug, Default)]
pub struct Out {
    effects: Vec<Effect>,
    echo: Option<bool>,
    prompt: Option<(Prompt, Option<std::time::Duration>)>,
    cancel_prompt: bool,
    /// Enter (`true`) or leave the transparent data mode (see [`Out::transparent`]).
    transparent: Option<bool>,
    /// Output to show after a step's delay (see [`Out::later`]).
    later: Vec<(crate::timing::Step, Vec<Effect>)>,
}

/// What ends the data after a `>` prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Exactly this many bytes, any byte values (the length forms).
    Exact(usize),
    /// Bytes up to Ctrl-Z (0x1A), at most this many; ESC (0x1B) abandons (the
    /// variable-length forms).
    UntilCtrlZ(usize),
}

/// Why a prompt ended without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    /// No byte came for the prompt's idle time.
    Timeout,
    /// ESC in a Ctrl-Z-ended prompt.
    Escape,
    /// More bytes than the prompt takes before the Ctrl-Z.
    TooLong,
}

/// Timer ids the [`Engine`] keeps for itself (a prompt's idle timer); a dialect's own ids
/// stay below this range.
const PROMPT_TIMERS: std::ops::Range<u64> = (1 << 62)..(1 << 62) + (1 << 32);

/// The idle timer of the open prompt.
#[derive(Debug, Clone, Copy)]
struct PromptWatch {
    id: u64,
    idle: std::time::Duration,
    /// [`Framer::data_taken`] when the timer was set.
    seen: u64,
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

    /// The echo setting this answer changes, if any.
    pub fn echo_change(&self) -> Option<bool> {
        self.echo
    }

    /// Enters data mode: the next `len` bytes from the host are one [`Dialect::on_data`]. No
    /// idle timer: the dialect keeps its own (`AT+FSWRITE`'s documented `<timeout>`).
    pub fn expect_data(&mut self, len: usize) {
        self.prompt = Some((Prompt::Exact(len), None));
    }

    /// Enters data mode as `prompt` says. When no byte comes for `idle` the prompt is
    /// abandoned ([`Dialect::on_prompt_abandoned`] with [`Abandoned::Timeout`]); a Ctrl-Z
    /// prompt that has data by then sends it instead ([`Dialect::on_data`]), as the manual's
    /// "5s超时（两次数据间隔超过5s）发送数据" says. Each read that brings data starts the idle
    /// time again.
    pub fn prompt(&mut self, prompt: Prompt, idle: std::time::Duration) {
        self.prompt = Some((prompt, Some(idle)));
    }

    /// Leaves data mode without the bytes: a prompt that timed out. What arrived is dropped.
    pub fn cancel_data(&mut self) {
        self.cancel_prompt = true;
    }

    /// Enters (`true`) or leaves the transparent mode (`AT+CIPMODE=1` after `CONNECT`, `ATO`):
    /// every byte from the host is data for [`Dialect::on_transparent`], as it comes, until
    /// the escape `+++` (1 s of silence before it, its three `+` less than 0.5 s apart, 0.5 s
    /// of silence after it: luatos-doc-pool Command_List/TCPIP/使用方法举例.md, 透明传输应用1)
    /// calls [`Dialect::on_escape`] and the module takes commands again.
    pub fn transparent(&mut self, on: bool) {
        self.transparent = Some(on);
    }

    /// The UART's rate becomes `rate` after what is written so far (see [`Effect::Baud`]).
    pub fn baud(&mut self, rate: u32) {
        self.effects.push(Effect::Baud(rate));
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
    fn on_fault(&mut self, fault: &crate::fault::Fault, out: &mut Out);
    /// A timer asked for with [`Out::timer`] has expired.
    fn on_timer(&mut self, _id: u64, _out: &mut Out) {}
    /// A prompt opened with [`Out::prompt`] ended without data: nothing may be sent, and the
    /// dialect forgets what the data was for. The answer is the dialect's.
    fn on_prompt_abandoned(&mut self, _why: Abandoned, out: &mut Out) {
        out.error();
    }
    /// Bytes from the host in the transparent mode ([`Out::transparent`]).
    fn on_transparent(&mut self, data: Vec<u8>, _out: &mut Out) {
        tracing::warn!(
            bytes = data.len(),
            "transparent data without a link: dropped"
        );
    }
    /// The host sent the escape `+++` in the transparent mode: the module is back in command
    /// mode (the engine has left the transparent mode already).
    fn on_escape(&mut self, out: &mut Out) {
        out.ok();
    }
}

/// The escape of the transparent mode: silence before `+++` (luatos-doc-pool
/// Command_List/TCPIP/使用方法举例.md, 透明传输应用1: "第一个+之前需要1000ms的间隔").
pub const ESCAPE_GUARD: std::time::Duration = std::time::Duration::from_millis(1000);
/// ... the most between two of its `+` and the silence after the last ("三个+之间的间隔不能超过
/// 500ms", "最后一个+之后需要500ms的间隔").
pub const ESCAPE_GAP: std::time::Duration = std::time::Duration::from_millis(500);

/// The transparent mode's escape detector.
#[derive(Debug, Clone, Copy)]
struct Transparent {
    /// [`ESCAPE_GUARD`] has passed without a byte: a `+` now may start the escape.
    quiet: bool,
    /// `+` held back as a possible escape.
    plus: u8,
    /// The one timer that counts (guard or gap); older ones are ignored when they fire.
    timer: u64,
}

/// A framer and a dialect: the whole modem minus its I/O.
pub struct Engine {
    framer: Framer,
    dialect: Box<dyn Dialect>,
    /// The timing profile's scheduler; `None`: everything at once (profile `fast`).
    timing: Option<crate::timing::Scheduler>,
    /// The profile paces the UART at the baud rate (its owner does the pacing).
    pace_uart: bool,
    watch: Option<PromptWatch>,
    prompts: u64,
    /// In the transparent mode: its escape detector.
    transparent: Option<Transparent>,
}

impl Engine {
    pub fn new(dialect: Box<dyn Dialect>, echo: bool) -> Self {
        Engine {
            framer: Framer::new(echo, crate::at::framer::DEFAULT_MAX_LINE),
            dialect,
            timing: None,
            pace_uart: false,
            watch: None,
            prompts: 0,
            transparent: None,
        }
    }

    /// Takes the time `sampler`'s profile says: network events and late output are held back
    /// by its delays (with [`Effect::Timer`]s that must come back to [`Engine::timer`]). A
    /// profile without delays changes nothing.
    pub fn set_timing(&mut self, sampler: crate::timing::Sampler) {
        self.pace_uart = sampler.profile().pace_uart;
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
            if self.transparent.is_some() {
                self.feed_transparent(std::mem::take(&mut input), &mut out);
                break;
            }
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
                Frame::Data(data) => {
                    self.watch = None;
                    self.dialect.on_data(data, &mut out)
                }
                Frame::Cancelled(why) => {
                    self.watch = None;
                    let why = match why {
                        Cancel::Escape => Abandoned::Escape,
                        Cancel::TooLong => Abandoned::TooLong,
                    };
                    tracing::info!(?why, "data prompt abandoned");
                    self.dialect.on_prompt_abandoned(why, &mut out)
                }
            }
            self.apply_controls(&mut out);
        }
        self.rearm_prompt(&mut out);
        self.finish(out)
    }

    /// Bytes in the transparent mode: data, unless they may be the escape (`+` after a second
    /// of silence), which is held until the gap after it tells.
    fn feed_transparent(&mut self, input: &[u8], out: &mut Out) {
        let mut input = input;
        if input.is_empty() {
            return;
        }
        if self.framer.take_after_cr() {
            // The LF of the `ATO\r\n` that entered the mode.
            input = input.strip_prefix(b"\n").unwrap_or(input);
        }
        if input.is_empty() {
            return;
        }
        let Some(mut tp) = self.transparent else {
            return;
        };
        let plus = input.iter().all(|&b| b == b'+');
        if tp.quiet && plus && usize::from(tp.plus) + input.len() <= 3 {
            tp.plus += input.len() as u8;
            tp.timer = self.next_prompt_timer();
            out.timer(tp.timer, ESCAPE_GAP);
            self.transparent = Some(tp);
            return;
        }
        let mut data = vec![b'+'; usize::from(tp.plus)];
        data.extend_from_slice(input);
        self.transparent_data(data, out);
    }

    /// Data for the dialect; the guard time starts again.
    fn transparent_data(&mut self, data: Vec<u8>, out: &mut Out) {
        self.start_guard(out);
        self.dialect.on_transparent(data, out);
        self.apply_controls(out);
    }

    /// The transparent mode, its guard time starting now: no `+` held yet.
    fn start_guard(&mut self, out: &mut Out) {
        let timer = self.next_prompt_timer();
        self.transparent = Some(Transparent {
            quiet: false,
            plus: 0,
            timer,
        });
        out.timer(timer, ESCAPE_GUARD);
    }

    /// The transparent mode's timer: the guard passed (a `+` may now escape), or the gap
    /// after held `+` passed: three of them are the escape, fewer are data.
    fn transparent_timer(&mut self, out: &mut Out) {
        let Some(tp) = self.transparent.as_mut() else {
            return;
        };
        match tp.plus {
            0 => tp.quiet = true,
            3 => {
                tracing::info!("+++: back to command mode");
                self.transparent = None;
                self.dialect.on_escape(out);
            }
            n => self.transparent_data(vec![b'+'; usize::from(n)], out),
        }
    }

    /// Bytes came for the open prompt: its idle time starts again (a new timer; the old one
    /// is ignored when it fires), so a prompt ends exactly `idle` after its last byte.
    fn rearm_prompt(&mut self, out: &mut Out) {
        let taken = self.framer.data_taken();
        if let Some(w) = self.watch.filter(|w| w.seen != taken) {
            let id = self.next_prompt_timer();
            self.watch = Some(PromptWatch {
                id,
                seen: taken,
                ..w
            });
            out.timer(id, w.idle);
        }
    }

    fn next_prompt_timer(&mut self) -> u64 {
        self.prompts += 1;
        PROMPT_TIMERS.start + self.prompts % (PROMPT_TIMERS.end - PROMPT_TIMERS.start)
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

    pub fn fault(&mut self, fault: &crate::fault::Fault) -> Vec<Effect> {
        let mut out = Out::default();
        self.dialect.on_fault(fault, &mut out);
        self.apply_controls(&mut out);
        self.finish(out)
    }

    /// A timer asked for with an [`Effect::Timer`] has expired: the timing scheduler's, a
    /// prompt's idle timer, or one the dialect asked for.
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
        if self.transparent.is_some_and(|t| t.timer == id) {
            self.transparent_timer(&mut out);
        } else if PROMPT_TIMERS.contains(&id) {
            self.prompt_timer(id, &mut out);
        } else {
            self.dialect.on_timer(id, &mut out);
        }
        self.apply_controls(&mut out);
        self.finish(out)
    }

    /// Whether the UART's bytes cross at the baud rate (the profile's `pace_uart`).
    pub fn pace_uart(&self) -> bool {
        self.pace_uart
    }

    /// The timing profile in force, if it has delays.
    pub fn timing(&self) -> Option<&crate::timing::Profile> {
        self.timing.as_ref().map(|t| t.profile())
    }

    /// The open prompt's idle timer: no byte came for its idle time, so the prompt ends (with
    /// its data if it is a Ctrl-Z prompt that has some). Timers of prompts that already ended,
    /// or that bytes have re-armed since, are ignored.
    fn prompt_timer(&mut self, id: u64, out: &mut Out) {
        if self.watch.is_none_or(|w| w.id != id) {
            return;
        }
        self.watch = None;
        let until = self.framer.waits_for_ctrl_z();
        let data = self.framer.cancel_data();
        if until && !data.is_empty() {
            tracing::info!(bytes = data.len(), "prompt idle: sending what came");
            self.dialect.on_data(data, out);
        } else {
            tracing::info!(bytes = data.len(), "prompt idle: abandoned");
            self.dialect.on_prompt_abandoned(Abandoned::Timeout, out);
        }
    }

    fn apply_controls(&mut self, out: &mut Out) {
        if std::mem::take(&mut out.cancel_prompt) {
            let dropped = self.framer.cancel_data();
            self.watch = None;
            tracing::info!(bytes = dropped.len(), "data prompt abandoned");
        }
        if let Some(on) = out.echo.take() {
            self.framer.set_echo(on);
        }
        match out.transparent.take() {
            Some(true) => self.start_guard(out),
            Some(false) => self.transparent = None,
            None => {}
        }
        if let Some((prompt, idle)) = out.prompt.take() {
            match prompt {
                Prompt::Exact(len) => self.framer.expect_data(len),
                Prompt::UntilCtrlZ(max) => self.framer.expect_until_ctrl_z(max),
            }
            self.watch = None;
            if let Some(idle) = idle.filter(|_| self.framer.in_data_mode()) {
                let id = self.next_prompt_timer();
                self.watch = Some(PromptWatch {
                    id,
                    idle,
                    seen: self.framer.data_taken(),
                });
                out.timer(id, idle);
            }
        }
    }
}

/// `profile` if it is one of `kind`'s models, else `kind`'s default: a configuration built
/// from another dialect's defaults carries that dialect's model.
pub fn own_profile(kind: DialectKind, profile: crate::modem::Profile) -> crate::modem::Profile {
    if crate::modem::profile::dialect_of(&profile.model) == Some(kind) {
        profile
    } else {
        crate::modem::Profile::lookup(kind, None, None).expect("the built-in profile tables")
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
/// The engine is the module a fault reaches (`crate::fault::Site`).
impl crate::fault::Module for Engine {
    fn fault(&mut self, fault: &crate::fault::Fault) -> Vec<Effect> {
        Engine::fault(self, fault)
    }
}

#[cfg(test)]
#[path = "../../tests/support/malformed.rs"]
pub(crate) mod malformed_table;
