//! The cellular side of the simulated module: SIM, registration, PDP context, settings.
//! Pure state; the dialects read and change it and decide what each change looks like on the
//! UART.

use std::net::Ipv4Addr;

pub mod profile;
pub use profile::{BootLine, Civil, Clock, Profile};

/// What makes one simulated module different from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The IMEI `AT+CGSN` prints. Seed 000 section 6.2 uses 868488076771714 as client id,
    /// which is how these modules are usually set up (client id = IMEI).
    pub imei: String,
    /// What `AT+CIMI` prints (`--imsi`).
    pub imsi: String,
    /// What `AT+ICCID`/`AT+CCID` print (`--iccid`). The default is the vendor manual's example
    /// (luatos-doc-pool Command_List/Base/ICCID.md).
    pub iccid: String,
    /// The address the PDP context gets.
    pub ip: Ipv4Addr,
    /// The model and firmware (`--model`, `--firmware`).
    pub profile: Profile,
    /// The time the module's clock shows at power-on (`--time`, seconds since the epoch,
    /// UTC); `None`: the host's clock.
    pub time: Option<i64>,
}

impl Default for Identity {
    fn default() -> Self {
        Identity::for_dialect(crate::dialect::DialectKind::Air780e)
    }
}

impl Identity {
    /// The defaults, with the dialect's default model.
    pub fn for_dialect(dialect: crate::dialect::DialectKind) -> Identity {
        Identity {
            imei: "868488076771714".into(),
            imsi: "460046616008063".into(),
            iccid: "89860117831003134201".into(),
            ip: Ipv4Addr::new(10, 104, 48, 68),
            profile: Profile::lookup(dialect, None, None).expect("the built-in profile tables"),
            time: None,
        }
    }
}

/// Faults injected from outside: through [`crate::sim::Simulator::inject`] in process, or the
/// control socket (`modem-sim inject --control PATH <fault> [ARGS]`). Each one enters at the
/// layer it belongs to (the TCP socket, the broker, the cell), and the dialect shows all of its
/// consequences. The text form (`FromStr`/`Display`) is the control protocol's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The peer closes the modem's TCP links (FIN). Seed 001 "连接被动断开": the Air780E
    /// prints `CLOSED`, then `AT+MIPCLOSE` and `AT+MCONNECT` answer `+CME ERROR: 767`.
    Closed,
    /// The same by RST (the socket is aborted with `SO_LINGER` 0).
    Reset,
    /// The network deactivates the PDP context (seed 001, "PDP被动去激活"); it can be
    /// activated again after `back_after`.
    PdnDeact { back_after: std::time::Duration },
    /// Registration lost: `+CGREG`/`+CEREG` go to 0 (URCs when their mode is on), `AT+CGATT?`
    /// reads 0, the data bearer goes and connects fail (seed 000 FAQ 3, seed 002 FAQ 4.4).
    Deregister,
    /// Registration regained (home network), attached again.
    Register,
    /// The SIM is pulled: `AT+CPIN?` answers `+CME ERROR: 10`, and registration is lost.
    SimRemoved,
    /// The SIM is back: ready and registered again.
    SimInserted,
    /// `AT+CSQ` reports this RSSI (0..=31, or 99 unknown).
    Signal(u8),
    /// The broker closes TCP links that send no MQTT CONNECT within this time (seed 003: the
    /// cloud's 5 s); `None` restores the default.
    KickIdle(Option<std::time::Duration>),
    /// Every byte on the modem's open links vanishes, both ways: the modem's keepalive
    /// expires (`CLOSED`), and the broker publishes the will after 1.5 x keepalive (seed 000
    /// FAQ 3: drops without a word from the network).
    Blackhole,
    /// A delay in milliseconds (+-25 % jitter) on every packet of every link, both ways; 0
    /// turns it off. Seed 000 FAQ 3 point 8: a slow network means late answers.
    Latency(u64),
    /// The UART splits each write into small random pieces (`false`: whole writes again).
    UartFragment(bool),
    /// The UART puts noise bytes before lines (`false`: no more noise).
    UartGarbage(bool),
    /// The next URC is held back and printed between the echo and the answer of the next
    /// command.
    UrcInResponse,
    /// Power is cut and restored: the links end without an MQTT DISCONNECT (the broker
    /// publishes the will), every setting not saved with `AT&W` is lost (files stay: they are
    /// in flash), and the module boots again, printing its power-on lines.
    PowerCycle,
    /// The watchdog resets the module: the same consequences as a power cycle.
    WatchdogReset,
}

impl Fault {
    /// `pdn-deact` with the context back at once, as seed 001's recovery assumes.
    pub const PDN_DEACT: Fault = Fault::PdnDeact {
        back_after: std::time::Duration::ZERO,
    };
}

/// The faults the control channel knows, with their arguments: what an unknown fault's error
/// lists.
pub const FAULTS: &[(&str, &str)] = &[
    ("closed", "the peer closes the modem's TCP links (FIN)"),
    ("reset", "the peer resets the modem's TCP links (RST)"),
    (
        "pdn-deact [SECS]",
        "the network deactivates the PDP context; it can come back after SECS (default 0)",
    ),
    ("deregister", "registration lost: CGREG/CEREG 0, CGATT 0"),
    ("register", "registration regained"),
    ("sim-removed", "the SIM is pulled"),
    ("sim-inserted", "the SIM is back"),
    ("signal N", "AT+CSQ reports RSSI N (0-31 or 99)"),
    (
        "blackhole",
        "traffic on the open links vanishes; keepalives expire on both sides",
    ),
    (
        "latency MS",
        "delay (+-25% jitter) on each packet both ways; 0 turns it off",
    ),
    (
        "uart-fragment [off]",
        "each UART write is split into small random pieces",
    ),
    (
        "uart-garbage [off]",
        "noise bytes before the module's lines",
    ),
    (
        "urc-in-response",
        "the next URC comes between the echo and the answer of the next command",
    ),
    (
        "kick-idle SECS|off",
        "the broker closes links that send no MQTT CONNECT within SECS",
    ),
    (
        "power-cycle",
        "power off and on: links dropped (wills fire), unsaved settings lost, boot lines again",
    ),
    (
        "watchdog-reset",
        "the watchdog reboots the module (as power-cycle)",
    ),
];

/// When a fault fires: now, after a delay, or on a protocol event of the modem's MQTT
/// traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Now,
    After(std::time::Duration),
    /// When the modem sends its Nth PUBLISH from now (1: the next one).
    OnPublish(u32),
    /// When the modem sends its next SUBSCRIBE.
    OnSubscribe,
    /// Right after the modem's next successful CONNACK is shown.
    OnConnack,
}

/// A fault and when it fires: the control protocol's request, `<fault> [ARGS] [TRIGGER]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub fault: Fault,
    pub trigger: Trigger,
}

/// The triggers, for error messages.
pub const TRIGGERS: &[(&str, &str)] = &[
    ("(none)", "now"),
    ("after SECS", "after SECS seconds"),
    (
        "on publish [N]",
        "when the modem sends its Nth PUBLISH from now (default 1)",
    ),
    ("on subscribe", "when the modem sends its next SUBSCRIBE"),
    ("on connack", "right after the modem's next CONNACK"),
];

/// The list of valid faults (and triggers), one per line, for error messages and `--help`.
pub fn fault_list() -> String {
    let mut lines: Vec<String> = FAULTS
        .iter()
        .map(|(f, what)| format!("  {f:<20} {what}"))
        .collect();
    lines.push("then optionally a trigger:".into());
    lines.extend(TRIGGERS.iter().map(|(t, what)| format!("  {t:<20} {what}")));
    lines.join("\n")
}

impl std::str::FromStr for Request {
    type Err = FaultParseError;
    fn from_str(s: &str) -> Result<Request, FaultParseError> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let bad = |reason: String| FaultParseError { reason };
        let at = words
            .iter()
            .position(|w| w.eq_ignore_ascii_case("after") || w.eq_ignore_ascii_case("on"));
        let (fault, trigger) = match at {
            Some(i) => words.split_at(i),
            None => (&words[..], &[][..]),
        };
        let fault: Fault = fault.join(" ").parse()?;
        let lower: Vec<String> = trigger.iter().map(|w| w.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        let trigger = match lower.as_slice() {
            [] => Trigger::Now,
            ["after", s] => Trigger::After(secs(s).map_err(bad)?),
            ["on", "publish"] => Trigger::OnPublish(1),
            ["on", "publish", n] => match n.parse::<u32>() {
                Ok(n @ 1..) => Trigger::OnPublish(n),
                _ => return Err(bad(format!("`on publish {n}`: N counts from 1"))),
            },
            ["on", "subscribe"] => Trigger::OnSubscribe,
            ["on", "connack"] => Trigger::OnConnack,
            _ => return Err(bad(format!("unknown trigger `{}`", trigger.join(" ")))),
        };
        Ok(Request { fault, trigger })
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.fault)?;
        match &self.trigger {
            Trigger::Now => Ok(()),
            Trigger::After(d) => write!(f, " after {}", d.as_secs_f64()),
            Trigger::OnPublish(n) => write!(f, " on publish {n}"),
            Trigger::OnSubscribe => f.write_str(" on subscribe"),
            Trigger::OnConnack => f.write_str(" on connack"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}\nvalid faults:\n{}", fault_list())]
pub struct FaultParseError {
    pub reason: String,
}

fn secs(arg: &str) -> Result<std::time::Duration, String> {
    arg.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| format!("`{arg}` is not a number of seconds (0 to 86400)"))
}

impl std::str::FromStr for Fault {
    type Err = FaultParseError;
    fn from_str(s: &str) -> Result<Fault, FaultParseError> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let bad = |reason: String| FaultParseError { reason };
        let (name, args) = words
            .split_first()
            .ok_or_else(|| bad("no fault given".into()))?;
        let no_args = |f: Fault| match args {
            [] => Ok(f),
            _ => Err(bad(format!("`{name}` takes no argument"))),
        };
        match (name.to_ascii_lowercase().as_str(), args) {
            ("closed", _) => no_args(Fault::Closed),
            ("reset", _) => no_args(Fault::Reset),
            ("pdn-deact", []) => Ok(Fault::PdnDeact {
                back_after: std::time::Duration::ZERO,
            }),
            ("pdn-deact", [s]) => Ok(Fault::PdnDeact {
                back_after: secs(s).map_err(bad)?,
            }),
            ("deregister", _) => no_args(Fault::Deregister),
            ("register", _) => no_args(Fault::Register),
            ("sim-removed", _) => no_args(Fault::SimRemoved),
            ("sim-inserted", _) => no_args(Fault::SimInserted),
            ("signal", [n]) => match n.parse::<u8>() {
                Ok(n @ (0..=31 | 99)) => Ok(Fault::Signal(n)),
                _ => Err(bad(format!("signal `{n}`: RSSI is 0 to 31, or 99"))),
            },
            ("blackhole", _) => no_args(Fault::Blackhole),
            ("latency", [ms]) => match ms.parse::<u64>() {
                Ok(ms) if ms <= 60_000 => Ok(Fault::Latency(ms)),
                _ => Err(bad(format!("latency `{ms}`: milliseconds, 0 to 60000"))),
            },
            ("uart-fragment", []) => Ok(Fault::UartFragment(true)),
            ("uart-fragment", ["off"]) => Ok(Fault::UartFragment(false)),
            ("uart-garbage", []) => Ok(Fault::UartGarbage(true)),
            ("uart-garbage", ["off"]) => Ok(Fault::UartGarbage(false)),
            ("urc-in-response", _) => no_args(Fault::UrcInResponse),
            ("power-cycle", _) => no_args(Fault::PowerCycle),
            ("watchdog-reset", _) => no_args(Fault::WatchdogReset),
            ("kick-idle", ["off"]) => Ok(Fault::KickIdle(None)),
            ("kick-idle", [s]) => Ok(Fault::KickIdle(Some(secs(s).map_err(bad)?))),
            (
                "pdn-deact" | "signal" | "kick-idle" | "latency" | "uart-fragment" | "uart-garbage",
                _,
            ) => Err(bad(format!("wrong arguments for `{name}`"))),
            (other, _) => Err(bad(format!("unknown fault `{other}`"))),
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Closed => f.write_str("closed"),
            Fault::Reset => f.write_str("reset"),
            Fault::PdnDeact { back_after } => {
                write!(f, "pdn-deact {}", back_after.as_secs_f64())
            }
            Fault::Deregister => f.write_str("deregister"),
            Fault::Register => f.write_str("register"),
            Fault::SimRemoved => f.write_str("sim-removed"),
            Fault::SimInserted => f.write_str("sim-inserted"),
            Fault::Signal(n) => write!(f, "signal {n}"),
            Fault::Blackhole => f.write_str("blackhole"),
            Fault::Latency(ms) => write!(f, "latency {ms}"),
            Fault::UartFragment(true) => f.write_str("uart-fragment"),
            Fault::UartFragment(false) => f.write_str("uart-fragment off"),
            Fault::UartGarbage(true) => f.write_str("uart-garbage"),
            Fault::UartGarbage(false) => f.write_str("uart-garbage off"),
            Fault::UrcInResponse => f.write_str("urc-in-response"),
            Fault::PowerCycle => f.write_str("power-cycle"),
            Fault::WatchdogReset => f.write_str("watchdog-reset"),
            Fault::KickIdle(None) => f.write_str("kick-idle off"),
            Fault::KickIdle(Some(d)) => write!(f, "kick-idle {}", d.as_secs_f64()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimState {
    Ready,
    Absent,
}

/// Network registration status as `+CGREG`/`+CEREG` report it (27.007 section 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegStatus {
    NotRegistered = 0,
    Home = 1,
    Searching = 2,
    Roaming = 5,
}

/// The cellular state of a module that booted with a working SIM on a live network, which is
/// the state every seed log starts from.
#[derive(Debug, Clone)]
pub struct CellState {
    pub identity: Identity,
    pub sim: SimState,
    pub reg: RegStatus,
    pub attached: bool,
    pub pdp_active: bool,
    /// The network refuses to activate a PDP context (after `pdn-deact SECS`, until SECS
    /// have passed).
    pub pdp_barred: bool,
    /// `+CSQ: <rssi>,<ber>`.
    pub rssi: u8,
    pub ber: u8,
    /// `AT+CMEE`: 0 plain `ERROR`, 1 numeric, 2 verbose. The seeds show `+CME ERROR: 767`
    /// without ever setting it, so these modules default to 1.
    pub cmee: u8,
    /// `AT+CREG=<n>`, `AT+CGREG=<n>`, `AT+CEREG=<n>`: 0 no URC, 1 `<stat>`, 2 with the cell.
    pub creg_mode: u8,
    pub cgreg_mode: u8,
    pub cereg_mode: u8,
    pub baud: u32,
    pub apn: Apn,
    /// The real-time clock (`AT+CCLK`, `+NITZ`).
    pub clock: Clock,
    /// The TCP/IP stack's bearer state (`AT+CSTT`, `AT+CIICR`, `AT+CIPSTATUS`).
    pub cip: Cip,
}

/// The single-link states of the TCP/IP stack, as `AT+CIPSTATUS` prints them
/// (luatos-doc-pool Command_List/TCPIP/CIPSTATUS.md and 状态机.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cip {
    /// Nothing set up (power-on, after `AT+CIPSHUT`).
    Initial,
    /// `AT+CSTT` done.
    Start,
    /// `AT+CIICR` done: the context is active.
    GprsAct,
    /// `AT+CIFSR` read the address.
    Status,
    /// The network released the context; only `AT+CIPSHUT` leaves this state.
    PdpDeact,
}

impl Cip {
    pub fn as_str(self) -> &'static str {
        match self {
            Cip::Initial => "IP INITIAL",
            Cip::Start => "IP START",
            Cip::GprsAct => "IP GPRSACT",
            Cip::Status => "IP STATUS",
            Cip::PdpDeact => "PDP DEACT",
        }
    }
}

/// The serving cell, as `+CREG`/`+CGREG`/`+CEREG` with `<n>`=2 print it: location (tracking)
/// area, cell id, access technology 7 (E-UTRAN). The values are the manual's example
/// (luatos-doc-pool Command_List/Network_service/CREG.md: `+CREG: 2,1,"1863","0183db22",7`).
pub const CELL_LOCATION: &str = "\"1863\",\"0183db22\",7";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Apn {
    pub name: String,
    pub user: String,
    pub password: String,
}

impl CellState {
    pub fn new(identity: Identity) -> Self {
        CellState {
            sim: SimState::Ready,
            reg: RegStatus::Home,
            attached: true,
            pdp_active: true,
            pdp_barred: false,
            rssi: 29,
            ber: identity.profile.ber,
            cmee: 1,
            creg_mode: 0,
            cgreg_mode: 0,
            cereg_mode: 0,
            baud: 115200,
            apn: Apn {
                name: "CMIOT".into(),
                ..Apn::default()
            },
            clock: Clock::new(identity.time),
            cip: Cip::Initial,
            identity,
        }
    }

    /// The final result for a `+CME ERROR` code under the current `AT+CMEE` mode.
    pub fn cme(&self, code: u16) -> String {
        match self.cmee {
            0 => "ERROR".into(),
            2 => format!("+CME ERROR: {}", cme_text(code)),
            _ => format!("+CME ERROR: {code}"),
        }
    }

    /// Ready for data: what `MIPSTART` needs before it can connect.
    pub fn data_ready(&self) -> bool {
        self.can_activate() && self.pdp_active
    }

    /// The network would activate a PDP context now.
    pub fn can_activate(&self) -> bool {
        self.sim == SimState::Ready && self.attached && !self.pdp_barred
    }

    /// Registration state changes, and the `+CREG`/`+CGREG`/`+CEREG` URCs each one prints when
    /// its mode is 1 or 2 (luatos-doc-pool Command_List/Network_service/CREG.md, CEREG.md,
    /// GPRS/CGREG.md: `+CREG: <stat>`; mode 2 adds `<lac>,<ci>,<AcT>` while registered).
    pub fn set_registration(&mut self, reg: RegStatus, urcs: &mut Vec<String>) {
        if self.reg == reg {
            return;
        }
        self.reg = reg;
        let registered = self.registered();
        self.attached = registered;
        if !registered {
            self.pdp_active = false;
            if self.cip != Cip::Initial {
                self.cip = Cip::PdpDeact;
            }
        }
        for (prefix, mode) in [
            ("+CREG", self.creg_mode),
            ("+CGREG", self.cgreg_mode),
            ("+CEREG", self.cereg_mode),
        ] {
            match mode {
                0 => {}
                1 => urcs.push(format!("{prefix}: {}", reg as u8)),
                _ if registered => urcs.push(format!("{prefix}: {},{CELL_LOCATION}", reg as u8)),
                _ => urcs.push(format!("{prefix}: {}", reg as u8)),
            }
        }
    }

    /// Registered, home or roaming.
    pub fn registered(&self) -> bool {
        matches!(self.reg, RegStatus::Home | RegStatus::Roaming)
    }

    /// The read form of `AT+CREG?`/`AT+CGREG?`/`AT+CEREG?`: `<prefix>: <n>,<stat>`, and with
    /// `<n>`=2 while registered `,<lac>,<ci>,<AcT>` (CREG.md: `+CREG: 2,1,"1863","0183db22",7`).
    pub fn registration_line(&self, prefix: &str) -> String {
        let mode = match prefix {
            "+CREG" => self.creg_mode,
            "+CGREG" => self.cgreg_mode,
            _ => self.cereg_mode,
        };
        if mode >= 2 && self.registered() {
            format!("{prefix}: {mode},{},{CELL_LOCATION}", self.reg as u8)
        } else {
            format!("{prefix}: {mode},{}", self.reg as u8)
        }
    }

    /// The `<n>` of `prefix` to change.
    pub fn registration_mode(&mut self, prefix: &str) -> &mut u8 {
        match prefix {
            "+CREG" => &mut self.creg_mode,
            "+CGREG" => &mut self.cgreg_mode,
            _ => &mut self.cereg_mode,
        }
    }
}

/// Verbose texts for `AT+CMEE=2` (27.007 section 9.2; 767 from the module family's table, see
/// fixtures/air780e-manual-notes.md section 11).
pub fn cme_text(code: u16) -> &'static str {
    match code {
        3 => "operation not allowed",
        4 => "operation not supported",
        10 => "SIM not inserted",
        30 => "no network service",
        50 => "incorrect parameters",
        // The Fibocom L610's MQTT codes (a transcription of its MQTT AT manual; see
        // fixtures/DIVERGENCES.md): CONNACK return codes 1..5.
        700 => "MQTT protocol version not supported",
        701 => "MQTT client identifier rejected",
        702 => "MQTT server unavailable",
        703 => "MQTT bad user name or password",
        704 => "MQTT not authorized",
        767 => "operation failed",
        _ => "unknown",
    }
}

/// The valid `AT+IPR` rates of the Air780E (manual's test form).
pub const BAUD_RATES: &[u32] = &[
    0, 1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400, 57600, 115200, 230400, 460800, 921600,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cme_follows_cmee() {
        let mut s = CellState::new(Identity::default());
        assert_eq!(s.cme(767), "+CME ERROR: 767");
        s.cmee = 0;
        assert_eq!(s.cme(767), "ERROR");
        s.cmee = 2;
        assert_eq!(s.cme(3), "+CME ERROR: operation not allowed");
    }

    #[test]
    fn faults_parse_and_print_back() {
        for text in [
            "closed",
            "reset",
            "pdn-deact 0",
            "pdn-deact 2.5",
            "deregister",
            "register",
            "sim-removed",
            "sim-inserted",
            "signal 7",
            "kick-idle 5",
            "kick-idle off",
            "blackhole",
            "latency 250",
            "uart-fragment",
            "uart-fragment off",
            "uart-garbage",
            "uart-garbage off",
            "urc-in-response",
            "power-cycle",
            "watchdog-reset",
        ] {
            let f: Fault = text.parse().unwrap();
            assert_eq!(f.to_string(), text);
        }
        assert_eq!(
            "pdn-deact".parse::<Fault>().unwrap(),
            Fault::PdnDeact {
                back_after: std::time::Duration::ZERO
            }
        );
    }

    #[test]
    fn requests_carry_a_trigger() {
        for text in [
            "closed",
            "closed after 2.5",
            "reset on publish 3",
            "pdn-deact 5 on subscribe",
            "signal 3 on connack",
        ] {
            let r: Request = text.parse().unwrap();
            assert_eq!(r.to_string(), text);
        }
        let r: Request = "closed on publish".parse().unwrap();
        assert_eq!(r.trigger, Trigger::OnPublish(1));
        for (text, why) in [
            ("closed on lunch", "unknown trigger `on lunch`"),
            ("closed on publish 0", "N counts from 1"),
            ("closed after soon", "not a number of seconds"),
            ("melt after 2", "unknown fault `melt`"),
        ] {
            let e = text.parse::<Request>().unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("on connack"), "{text}: {e}");
        }
    }

    #[test]
    fn bad_faults_are_refused_with_the_list() {
        for (text, why) in [
            ("melt", "unknown fault `melt`"),
            ("", "no fault given"),
            ("signal 40", "RSSI is 0 to 31"),
            ("signal", "wrong arguments for `signal`"),
            ("closed now", "takes no argument"),
            ("pdn-deact -1", "not a number of seconds"),
        ] {
            let e = text.parse::<Fault>().unwrap_err().to_string();
            assert!(e.contains(why), "{text}: {e}");
            for (name, _) in FAULTS {
                assert!(e.contains(name), "{text}: the list lacks {name}: {e}");
            }
        }
    }

    #[test]
    fn registration_urcs_follow_the_modes() {
        let mut s = CellState::new(Identity::default());
        let mut urcs = Vec::new();
        s.set_registration(RegStatus::NotRegistered, &mut urcs);
        assert!(urcs.is_empty(), "modes are 0 at power-on: {urcs:?}");
        assert!(!s.attached && !s.pdp_active);
        s.cgreg_mode = 1;
        s.cereg_mode = 2;
        s.set_registration(RegStatus::Home, &mut urcs);
        assert_eq!(urcs, ["+CGREG: 1", "+CEREG: 1,\"1863\",\"0183db22\",7"]);
        assert!(s.attached);
        assert_eq!(
            s.registration_line("+CEREG"),
            "+CEREG: 2,1,\"1863\",\"0183db22\",7"
        );
        assert_eq!(s.registration_line("+CGREG"), "+CGREG: 1,1");
    }
}
