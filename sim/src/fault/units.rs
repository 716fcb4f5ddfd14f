//! One small type per fault: its name, arguments and `--help` line, how its arguments parse
//! and print, and where it enters (see [`Unit`]). Each is listed once in the table in
//! [`super`] (`faults!`), which makes it a [`Fault`](super::Fault) variant.

use std::fmt;
use std::time::Duration;

use super::{secs, wrong_args, Layer, Site, Unit};
use crate::broker::{Broker, BrokerConfig};
use crate::net::link::LinkCmd;

/// The argument-less faults: for each, a unit struct (with its doc), its name and `--help`
/// line, and what it does where it enters (`|at| ...`, `at` the [`Site`]).
macro_rules! plain_faults {
    ($(
        $(#[$doc:meta])*
        $ty:ident($name:literal, $help:literal $(,)?) => |$at:ident| $enter:expr;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty;

        impl Unit for $ty {
            const NAME: &'static str = $name;
            const HELP: &'static str = $help;
            fn parse(_: &[&str]) -> Result<Self, String> {
                Ok($ty)
            }
            fn enter(&self, $at: &mut Site<'_>) {
                $enter;
            }
        }
    )*};
}

plain_faults! {
    /// The peer closes the modem's TCP links (FIN). Seed 001 "连接被动断开": the Air780E
    /// prints `CLOSED`, then `AT+MIPCLOSE` and `AT+MCONNECT` answer `+CME ERROR: 767`.
    Closed("closed", "the peer closes the modem's TCP links (FIN)")
        => |at| at.every_link(LinkCmd::PeerClose);
    /// The same by RST (the socket is aborted with `SO_LINGER` 0).
    Reset("reset", "the peer resets the modem's TCP links (RST)")
        => |at| at.every_link(LinkCmd::Reset);
    /// Registration lost: `+CGREG`/`+CEREG` go to 0 (URCs when their mode is on), `AT+CGATT?`
    /// reads 0, the data bearer goes and connects fail (seed 000 FAQ 3, seed 002 FAQ 4.4).
    Deregister("deregister", "registration lost: CGREG/CEREG 0, CGATT 0")
        => |at| at.module(Deregister);
    /// Registration regained (home network), attached again.
    Register("register", "registration regained") => |at| at.module(Register);
    /// The SIM is pulled: `AT+CPIN?` answers `+CME ERROR: 10`, and registration is lost.
    SimRemoved("sim-removed", "the SIM is pulled") => |at| at.module(SimRemoved);
    /// The SIM is back: ready and registered again.
    SimInserted("sim-inserted", "the SIM is back") => |at| at.module(SimInserted);
    /// Every byte on the modem's open links vanishes, both ways: the modem's keepalive expires
    /// (`CLOSED`), and the broker publishes the will after 1.5 x keepalive (seed 000 FAQ 3: drops
    /// without a word from the network).
    Blackhole("blackhole", "traffic on the open links vanishes; keepalives expire on both sides")
        => |at| at.every_link(LinkCmd::Blackhole);
    /// The next URC is held back and printed between the echo and the answer of the next command.
    UrcInResponse(
        "urc-in-response",
        "the next URC comes between the echo and the answer of the next command",
    ) => |at| at.uart.armed = true;
    /// Power is cut and restored: the links end without an MQTT DISCONNECT (the broker publishes
    /// the will), every setting not saved with `AT&W` is lost (files stay: they are in flash), and
    /// the module boots again, printing its power-on lines.
    PowerCycle(
        "power-cycle",
        "power off and on: links dropped (wills fire), unsaved settings lost, boot lines again",
    ) => |at| at.module(PowerCycle);
    /// The watchdog resets the module: the same consequences as a power cycle.
    WatchdogReset("watchdog-reset", "the watchdog reboots the module (as power-cycle)")
        => |at| at.module(WatchdogReset);
}

/// The network deactivates the PDP context (seed 001, "PDP被动去激活"); it can be activated
/// again after `back_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdnDeact {
    pub back_after: Duration,
}

impl Unit for PdnDeact {
    const NAME: &'static str = "pdn-deact";
    const ARGS: &'static str = "[SECS]";
    const HELP: &'static str =
        "the network deactivates the PDP context; it can come back after SECS (default 0)";
    fn parse(args: &[&str]) -> Result<Self, String> {
        match args {
            [] => Ok(PdnDeact {
                back_after: Duration::ZERO,
            }),
            [s] => Ok(PdnDeact {
                back_after: secs(s)?,
            }),
            _ => Err(wrong_args(Self::NAME)),
        }
    }
    fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " {}", self.back_after.as_secs_f64())
    }
    fn enter(&self, at: &mut Site<'_>) {
        at.module(*self);
    }
}

/// `AT+CSQ` reports this RSSI (0..=31, or 99 unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(pub u8);

impl Unit for Signal {
    const NAME: &'static str = "signal";
    const ARGS: &'static str = "N";
    const HELP: &'static str = "AT+CSQ reports RSSI N (0-31 or 99)";
    fn parse(args: &[&str]) -> Result<Self, String> {
        let rssi = |n: &u8| matches!(n, 0..=31 | 99);
        one_number(Self::NAME, args, rssi, "RSSI is 0 to 31, or 99").map(Signal)
    }
    fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " {}", self.0)
    }
    fn enter(&self, at: &mut Site<'_>) {
        at.module(*self);
    }
}

/// A delay in milliseconds (+-25 % jitter) on every packet of every link, both ways; 0 turns
/// it off. Seed 000 FAQ 3 point 8: a slow network means late answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency(pub u64);

impl Unit for Latency {
    const NAME: &'static str = "latency";
    const ARGS: &'static str = "MS";
    const HELP: &'static str = "delay (+-25% jitter) on each packet both ways; 0 turns it off";
    fn parse(args: &[&str]) -> Result<Self, String> {
        let ms = |ms: &u64| *ms <= 60_000;
        one_number(Self::NAME, args, ms, "milliseconds, 0 to 60000").map(Latency)
    }
    fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " {}", self.0)
    }
    fn enter(&self, at: &mut Site<'_>) {
        at.links.latency.set(self.0);
    }
}

/// The one argument of fault `name`: a number that `ok` takes, else an error that says `range`.
fn one_number<T: std::str::FromStr>(
    name: &str,
    args: &[&str],
    ok: impl Fn(&T) -> bool,
    range: &str,
) -> Result<T, String> {
    match args {
        [arg] => (arg.parse().ok())
            .filter(ok)
            .ok_or_else(|| format!("{name} `{arg}`: {range}")),
        _ => Err(wrong_args(name)),
    }
}

/// `[off]`: on without an argument, off with `off`.
fn on_off(name: &str, args: &[&str]) -> Result<bool, String> {
    match args {
        [] => Ok(true),
        ["off"] => Ok(false),
        _ => Err(wrong_args(name)),
    }
}

fn fmt_on_off(on: bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match on {
        true => Ok(()),
        false => f.write_str(" off"),
    }
}

/// The UART splits each write into small random pieces (`false`: whole writes again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartFragment(pub bool);

impl Unit for UartFragment {
    const NAME: &'static str = "uart-fragment";
    const ARGS: &'static str = "[off]";
    const HELP: &'static str = "each UART write is split into small random pieces";
    fn parse(args: &[&str]) -> Result<Self, String> {
        on_off(Self::NAME, args).map(UartFragment)
    }
    fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_on_off(self.0, f)
    }
    fn enter(&self, at: &mut Site<'_>) {
        at.out.set_fragment(self.0);
    }
}

/// The UART puts noise bytes before lines (`false`: no more noise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartGarbage(pub bool);

impl Unit for UartGarbage {
    const NAME: &'static str = "uart-garbage";
    const ARGS: &'static str = "[off]";
    const HELP: &'static str = "noise bytes before the module's lines";
    fn parse(args: &[&str]) -> Result<Self, String> {
        on_off(Self::NAME, args).map(UartGarbage)
    }
    fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_on_off(self.0, f)
    }
    fn enter(&self, at: &mut Site<'_>) {
        at.uart.garbage = self.0;
    }
}

/// The broker closes TCP links that send no MQTT CONNECT within this time (seed 003: the
/// cloud's 5 s); `None` restores the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KickIdle(pub Option<Duration>);

impl Unit for KickIdle {
    const NAME: &'static str = "kick-idle";
    const ARGS: &'static str = "SECS|off";
    const HELP: &'static str = "the broker closes links that send no MQTT CONNECT within SECS";
    const LAYER: Layer = Layer::Broker;
    fn parse(args: &[&str]) -> Result<Self, String> {
        match args {
            ["off"] => Ok(KickIdle(None)),
            [s] => Ok(KickIdle(Some(secs(s)?))),
            _ => Err(wrong_args(Self::NAME)),
        }
    }
    fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str(" off"),
            Some(d) => write!(f, " {}", d.as_secs_f64()),
        }
    }
    fn enter_broker(&self, broker: &Broker) {
        broker.set_connect_timeout(self.0.or(BrokerConfig::default().connect_timeout));
    }
}
