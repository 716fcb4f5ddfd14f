//! The cellular side of the simulated module: SIM, registration, PDP context, settings.
//! Pure state; the dialects read and change it and decide what each change looks like on the
//! UART.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

pub mod profile;
pub use profile::{BootLine, Civil, Clock, Profile};

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
        Identity::for_dialect(DialectKind::Air780e)
    }
}

impl Identity {
    /// The defaults, with the dialect's default model.
    pub fn for_dialect(dialect: DialectKind) -> Identity {
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
