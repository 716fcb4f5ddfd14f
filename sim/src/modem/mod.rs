//! The cellular side of the simulated module: SIM, registration, PDP context, settings.
//! Pure state; the dialects read and change it and decide what each change looks like on the
//! UART.

use std::net::Ipv4Addr;

/// What makes one simulated module different from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The IMEI `AT+CGSN` prints. Seed 000 section 6.2 uses 868488076771714 as client id,
    /// which is how these modules are usually set up (client id = IMEI).
    pub imei: String,
    pub imsi: String,
    /// The address the PDP context gets.
    pub ip: Ipv4Addr,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            imei: "868488076771714".into(),
            imsi: "460046616008063".into(),
            ip: Ipv4Addr::new(10, 104, 48, 68),
        }
    }
}

/// Faults injected from outside (the library API; a control socket comes later). Each one
/// enters at the layer it belongs to, and the dialect shows all of its consequences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The network deactivates the PDP context (seed 001, "PDP被动去激活").
    PdnDeact,
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
    /// `+CSQ: <rssi>,<ber>`.
    pub rssi: u8,
    pub ber: u8,
    /// `AT+CMEE`: 0 plain `ERROR`, 1 numeric, 2 verbose. The seeds show `+CME ERROR: 767`
    /// without ever setting it, so these modules default to 1.
    pub cmee: u8,
    pub cgreg_mode: u8,
    pub cereg_mode: u8,
    pub baud: u32,
    pub apn: Apn,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Apn {
    pub name: String,
    pub user: String,
    pub password: String,
}

impl CellState {
    pub fn new(identity: Identity) -> Self {
        CellState {
            identity,
            sim: SimState::Ready,
            reg: RegStatus::Home,
            attached: true,
            pdp_active: true,
            rssi: 29,
            ber: 99,
            cmee: 1,
            cgreg_mode: 0,
            cereg_mode: 0,
            baud: 115200,
            apn: Apn {
                name: "CMIOT".into(),
                ..Apn::default()
            },
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
        self.sim == SimState::Ready && self.attached && self.pdp_active
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
}
