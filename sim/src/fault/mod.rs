//! Faults injected from outside, in one place: **one table** (the `faults!` list below) makes
//! the [`Fault`] type, its text form (parsing and display: the control protocol's and
//! `modem-sim inject`'s), the `--help` list ([`fault_list`]) and where each fault enters. Each
//! fault is one small type in [`units`] implementing [`Unit`]; [`inject`] holds the handle that
//! applies them ([`Injector`]), [`trigger`] the triggers (`on publish 3`, `after 5`).
//!
//! Adding a fault = one unit in `units.rs` + its row here (and its README row: a test checks).
//! See the README's "Adding a fault".

use std::fmt;

pub mod inject;
pub mod trigger;
pub mod units;

pub use inject::{InjectError, Injector, Status};
pub use trigger::{Request, Trigger, TRIGGERS};
pub use units::*;

use crate::broker::Broker;
use crate::effect::Effect;
use crate::net::link::{LinkCmd, Links};
use crate::uart::faults::UartFaults;
use crate::uart::writer::UartOut;

/// Where a fault takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// In the modem's task: its links, its UART, its cell (through the dialect).
    Modem,
    /// In the embedded broker, by the injector: it can fire now or after a delay, not on a
    /// protocol event of the modem.
    Broker,
}

/// One fault: its row in the table (name, arguments, `--help` line, parser, printer) and where
/// it enters. Implemented once per fault in [`units`].
pub trait Unit: Sized + Copy + Into<Fault> {
    /// Its name in the text form (`pdn-deact`).
    const NAME: &'static str;
    /// Its arguments as `--help` shows them (`[SECS]`, `N`; empty: none).
    const ARGS: &'static str = "";
    /// One line for `--help` and error messages.
    const HELP: &'static str;
    const LAYER: Layer = Layer::Modem;
    /// The arguments after the name (already split on whitespace; none when `ARGS` is empty:
    /// the table refuses them first).
    fn parse(args: &[&str]) -> Result<Self, String>;
    /// The arguments as text, each after a space (the inverse of `parse`).
    fn fmt_args(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
    /// Applies it in the modem's task ([`Layer::Modem`]). Unless a unit says otherwise, the
    /// module reacts as its dialect does ([`Site::module`]).
    fn enter(&self, at: &mut Site<'_>) {
        at.module(*self);
    }
    /// Applies it in the broker ([`Layer::Broker`]).
    fn enter_broker(&self, _broker: &Broker) {}
}

/// A row of the table, as `--help`, the README check and the parser see it.
pub struct Row {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
    parse: fn(&[&str]) -> Result<Fault, String>,
}

impl Row {
    /// `name ARGS`, as `--help` shows it.
    pub fn usage(&self) -> String {
        match self.args {
            "" => self.name.to_string(),
            args => format!("{} {args}", self.name),
        }
    }
}

const fn row_of<U: Unit>(parse: fn(&[&str]) -> Result<Fault, String>) -> Row {
    Row {
        name: U::NAME,
        args: U::ARGS,
        help: U::HELP,
        parse,
    }
}

/// The object-safe face of a [`Unit`], for dispatch on a [`Fault`].
trait Entry {
    fn name(&self) -> &'static str;
    fn layer(&self) -> Layer;
    fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn enter(&self, at: &mut Site<'_>);
    fn enter_broker(&self, broker: &Broker);
}

impl<U: Unit> Entry for U {
    fn name(&self) -> &'static str {
        U::NAME
    }
    fn layer(&self) -> Layer {
        U::LAYER
    }
    fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Unit::fmt_args(self, f)
    }
    fn enter(&self, at: &mut Site<'_>) {
        Unit::enter(self, at)
    }
    fn enter_broker(&self, broker: &Broker) {
        Unit::enter_broker(self, broker)
    }
}

/// Makes the [`Fault`] enum (one variant per unit, named as it), `From<unit> for Fault`, the
/// table and the dispatch, from one list.
macro_rules! faults {
    ($($unit:ident,)*) => {
        /// A fault injected from outside: through [`Simulator::inject`](crate::Simulator::inject)
        /// in process, or the control socket (`modem-sim inject --control PATH <fault> [ARGS]`).
        /// Each enters at the layer it belongs to (the TCP socket, the broker, the cell), and
        /// the dialect shows all of its consequences. The text form (`FromStr`/`Display`) is
        /// the control protocol's; each variant's unit says what it does.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Fault {
            $($unit($unit),)*
        }

        $(impl From<$unit> for Fault {
            fn from(u: $unit) -> Fault {
                Fault::$unit(u)
            }
        })*

        /// The table: one row per fault, in `--help` order.
        pub const TABLE: &[Row] = &[$(row_of::<$unit>(|args| $unit::parse(args).map(Fault::$unit)),)*];

        impl Fault {
            fn unit(&self) -> &dyn Entry {
                match self {
                    $(Fault::$unit(u) => u,)*
                }
            }
        }
    };
}

// THE table. A new fault: its unit in `units.rs`, and one line here.
faults! {
    Closed,
    Reset,
    PdnDeact,
    Deregister,
    Register,
    SimRemoved,
    SimInserted,
    Signal,
    Blackhole,
    Latency,
    UartFragment,
    UartGarbage,
    UrcInResponse,
    KickIdle,
    PowerCycle,
    WatchdogReset,
}

impl Fault {
    /// `pdn-deact` with the context back at once, as seed 001's recovery assumes.
    pub const PDN_DEACT: Fault = Fault::PdnDeact(PdnDeact {
        back_after: std::time::Duration::ZERO,
    });

    /// Its name in the text form (`closed`).
    pub fn name(&self) -> &'static str {
        self.unit().name()
    }

    /// Where it takes effect.
    pub fn layer(&self) -> Layer {
        self.unit().layer()
    }

    /// Applies it in a modem's task.
    pub(crate) fn enter(&self, at: &mut Site<'_>) {
        self.unit().enter(at)
    }

    /// Applies it in the broker.
    pub(crate) fn enter_broker(&self, broker: &Broker) {
        self.unit().enter_broker(broker)
    }
}

/// The module a fault reaches: the engine, whose dialect reacts
/// ([`Dialect::on_fault`](crate::dialect::Dialect::on_fault)). A trait so that this module
/// need not import the dialects, which import it for [`Fault`].
pub trait Module {
    /// The module's reaction to `fault`: URCs, state, timers.
    fn fault(&mut self, fault: &Fault) -> Vec<Effect>;
}

/// What a fault can reach in a modem's task, handed to [`Unit::enter`]: the links, the UART
/// and the module (its dialect's [`on_fault`](crate::dialect::Dialect::on_fault)). What the
/// module shows and what the links are told are carried out by the task, in that order.
pub struct Site<'a> {
    engine: &'a mut dyn Module,
    /// Every link of the modem (MQTT, sockets, HTTP): `latency` sets theirs.
    pub(crate) links: &'a mut Links,
    /// The UART writer: `uart-fragment`.
    pub(crate) out: &'a mut UartOut,
    /// The UART faults that rearrange output: `uart-garbage`, `urc-in-response`.
    pub(crate) uart: &'a mut UartFaults,
    effects: Vec<Effect>,
    link_cmds: Vec<LinkCmd>,
}

impl<'a> Site<'a> {
    pub(crate) fn new(
        engine: &'a mut dyn Module,
        links: &'a mut Links,
        out: &'a mut UartOut,
        uart: &'a mut UartFaults,
    ) -> Self {
        Site {
            engine,
            links,
            out,
            uart,
            effects: Vec::new(),
            link_cmds: Vec::new(),
        }
    }

    /// The module reacts as its dialect does ([`Dialect::on_fault`](crate::dialect::Dialect::on_fault)):
    /// URCs, state, timers.
    pub fn module(&mut self, fault: impl Into<Fault>) {
        let fault = fault.into();
        self.effects.extend(self.engine.fault(&fault));
    }

    /// Every open link of the modem gets `cmd` (a `closed`/`reset` waits until each reports
    /// its end).
    pub(crate) fn every_link(&mut self, cmd: LinkCmd) {
        self.link_cmds.push(cmd);
    }

    /// What the module showed, and what the links are to be told.
    pub(crate) fn finish(self) -> (Vec<Effect>, Vec<LinkCmd>) {
        (self.effects, self.link_cmds)
    }
}

/// The list of valid faults (and triggers), one per line, for error messages and `--help`.
pub fn fault_list() -> String {
    let mut lines: Vec<String> = TABLE
        .iter()
        .map(|r| format!("  {:<20} {}", r.usage(), r.help))
        .collect();
    lines.push("then optionally a trigger:".into());
    lines.extend(TRIGGERS.iter().map(|(t, what)| format!("  {t:<20} {what}")));
    lines.join("\n")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}\nvalid faults:\n{}", fault_list())]
pub struct FaultParseError {
    pub reason: String,
}

/// A number of seconds, 0 to a day.
pub(crate) fn secs(arg: &str) -> Result<std::time::Duration, String> {
    arg.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| format!("`{arg}` is not a number of seconds (0 to 86400)"))
}

/// The error for arguments a fault does not take in that shape.
pub(crate) fn wrong_args(name: &str) -> String {
    format!("wrong arguments for `{name}`")
}

impl std::str::FromStr for Fault {
    type Err = FaultParseError;
    fn from_str(s: &str) -> Result<Fault, FaultParseError> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let bad = |reason: String| FaultParseError { reason };
        let (name, args) = words
            .split_first()
            .ok_or_else(|| bad("no fault given".into()))?;
        let row = TABLE
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| bad(format!("unknown fault `{}`", name.to_ascii_lowercase())))?;
        if row.args.is_empty() && !args.is_empty() {
            return Err(bad(format!("`{name}` takes no argument")));
        }
        (row.parse)(args).map_err(bad)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        self.unit().fmt_args(f)
    }
}

#[cfg(test)]
mod tests;
