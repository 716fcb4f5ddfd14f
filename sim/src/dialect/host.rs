//! What a host needs to know to drive a dialect, beyond its commands: how to take the module
//! offline, which client id it uses before the host names one, where its commands name the
//! broker, the account and the client id, and how it frames a received message. The harness
//! asks this instead of matching dialect names (`modem-harness run` resets a module with
//! [`HostProfile::reset`], rewrites hosts and accounts for an external broker with
//! [`HostProfile::connects`] and [`HostProfile::logins`], follows the client id with
//! [`HostProfile::client_ids`]; the features' socket steps send and read back raw socket data
//! as [`HostProfile::sockets`] says).

use super::DialectKind;

/// An argument of a `AT<command>=<args>` command, by its 0-based position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgAt {
    /// The command's name with its `+`, as [`crate::at::parse_line`] gives it: `+MCONFIG`.
    pub command: &'static str,
    pub index: usize,
}

/// The MQTT client id a module uses until the host names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultClientId {
    /// Its IMEI (`AT+CGSN`).
    Imei,
}

/// How a received MQTT message reaches the UART.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFraming {
    /// `<urc>"<topic>",<n> byte,<payload>`: the payload is `<n>` bytes and may hold line ends.
    Length { urc: &'static str },
    /// `<urc><id>, <qos>, <topic>, <payload>` up to the line's end: a CR LF in a payload cannot
    /// be told from the line's end.
    LineEnd { urc: &'static str },
}

/// A dialect as a host drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostProfile {
    /// Commands that take the module offline whatever its state (their answers do not
    /// matter: `+CME ERROR: 767` when already offline).
    pub reset: &'static [&'static str],
    pub default_client_id: DefaultClientId,
    /// The account of the vendor's test server, which broker-side tools log in with unless
    /// told otherwise.
    pub account: (&'static str, &'static str),
    /// Where a command names the broker's host; its port is the next argument.
    pub connects: &'static [ArgAt],
    /// Where a command names the MQTT user name; the password is the next argument.
    pub logins: &'static [ArgAt],
    /// Where a command names the MQTT client id.
    pub client_ids: &'static [ArgAt],
    pub message: MessageFraming,
    pub sockets: SocketProfile,
}

/// How a host sends on the module's raw sockets and reads what comes back. In the lines the
/// module prints, `{id}` stands for the link's number and `{tag}` for the `<n>, ` that starts
/// a multi-link answer (nothing on the single link); `{}` for any value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketProfile {
    /// The send command: `AT+MIPSEND=<id>,<len>`; `AT+CIPSEND=[<n>,]<len>`.
    pub send: &'static str,
    /// A send may leave the link out (the single-link mode: `AT+CIPSEND=<len>`).
    pub single_link: bool,
    /// The command without its length takes data up to a Ctrl-Z (`AT+CIPSEND[=<n>]`).
    pub ctrl_z: bool,
    /// The most one send carries.
    pub send_max: usize,
    /// What the module prints after the data, in order.
    pub sent: &'static [&'static str],
    /// The line by which the module says the peer closed the link.
    pub broken: &'static str,
    /// How received data reaches the UART.
    pub data: &'static [DataFrame],
}

/// One way received socket data reaches the UART.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFrame {
    /// `<prefix><skipped fields>,<id>,<len>,<hex>`: one line, the data in hex.
    HexLine { prefix: &'static str, skip: usize },
    /// `<prefix><fields>:<gap><len raw bytes>`: the fields (split at `,`) hold the length at
    /// `len` and the link at `id` (the single link when `None`); the data may hold any byte.
    Length {
        prefix: &'static str,
        id: Option<usize>,
        len: usize,
        gap: &'static str,
    },
}

/// The Air780E family (seed 000).
const AIR780E: HostProfile = HostProfile {
    // Seed 000 section 6.2 closes with the first two; MQTTMSGSET=0 undoes cache mode (seed 001).
    reset: &["AT+MDISCONNECT", "AT+MIPCLOSE", "AT+MQTTMSGSET=0"],
    // MCONNECT without MCONFIG: client id = IMEI (fixtures/DIVERGENCES.md A25).
    default_client_id: DefaultClientId::Imei,
    // Seed 000 section 4.3.
    account: ("root", "luat123456"),
    // AT+MIPSTART=<host>,<port> (seed 000 section 6.2).
    connects: &[ArgAt {
        command: "+MIPSTART",
        index: 0,
    }],
    // AT+MCONFIG=<clientid>,<user>,<password> (seed 000 section 6.2).
    logins: &[ArgAt {
        command: "+MCONFIG",
        index: 1,
    }],
    client_ids: &[ArgAt {
        command: "+MCONFIG",
        index: 0,
    }],
    // `+MSUB: "mqtt/pub",20 byte,data from tcp server` (seed 000 section 6.2).
    message: MessageFraming::Length { urc: "+MSUB: " },
    sockets: SocketProfile {
        // CIPSEND.md: `AT+CIPSEND=[<n>,]<length>`, or without the length up to Ctrl-Z, at most
        // 1460 bytes; `SEND OK` / `<n>, SEND OK`.
        send: "AT+CIPSEND",
        single_link: true,
        ctrl_z: true,
        send_max: 1460,
        sent: &["{tag}SEND OK"],
        // The field report 20240924_air780ep_at_tcp_sendData_error.md: `CLOSED`.
        broken: "{tag}CLOSED",
        // CIPHEAD.md `+IPD,<len>:`, 使用方法举例.md `+IPD,<len>,TCP:` (AT+CIPSHOWTP=1);
        // +RECEIVE.md `+RECEIVE,<n>,<len>:` with the data on the next line.
        data: &[
            DataFrame::Length {
                prefix: "+IPD,",
                id: None,
                len: 0,
                gap: "",
            },
            DataFrame::Length {
                prefix: "+RECEIVE,",
                id: Some(0),
                len: 1,
                gap: "\r\n",
            },
        ],
    },
};

/// The Fibocom L610 (seed 002).
const L610: HostProfile = HostProfile {
    // Seed 002: AT+MQTTCLOSE=1 closes the MQTT connection.
    reset: &["AT+MQTTCLOSE=1"],
    // The L610's client id until an AT+MQTTUSER names one (dialect/l610/mqtt.rs).
    default_client_id: DefaultClientId::Imei,
    account: ("root", "luat123456"),
    // AT+MQTTOPEN=<id>,<host>,<port>,... (seed 002 section 3.3).
    connects: &[ArgAt {
        command: "+MQTTOPEN",
        index: 1,
    }],
    // AT+MQTTUSER=<id>,<user>,<password>[,<client id>] (seed 002 section 3.3).
    logins: &[ArgAt {
        command: "+MQTTUSER",
        index: 1,
    }],
    client_ids: &[ArgAt {
        command: "+MQTTUSER",
        index: 3,
    }],
    // `+MQTTMSG: 1, 0, test1, "123"` (seed 002 section 3.3; DIVERGENCES F10).
    message: MessageFraming::LineEnd { urc: "+MQTTMSG: " },
    sockets: SocketProfile {
        // `AT+MIPSEND=<id>,<len>`; 2048 bytes a send, as the public L610 drivers cut them;
        // `+MIPSEND: <id>,0,<free>`, `OK`, `+MIPPUSH: <id>,0` (fixtures/DIVERGENCES.md L30).
        send: "AT+MIPSEND",
        single_link: false,
        ctrl_z: false,
        send_max: 2048,
        sent: &["+MIPSEND: {id},0,{}", "OK", "+MIPPUSH: {id},0"],
        broken: "+MIPSTAT: {id},{}",
        // `+MIPRTCP: <id>,<len>,<hex>`, `+MIPRUDP: <ip>,<port>,<id>,<len>,<hex>` under the
        // default AT+GTSET="IPRFMT",0 (fixtures/DIVERGENCES.md L31).
        data: &[
            DataFrame::HexLine {
                prefix: "+MIPRTCP: ",
                skip: 0,
            },
            DataFrame::HexLine {
                prefix: "+MIPRUDP: ",
                skip: 2,
            },
        ],
    },
};

impl DialectKind {
    /// Every dialect the simulator speaks.
    pub const ALL: [DialectKind; 2] = [DialectKind::Air780e, DialectKind::L610];

    /// How a host drives this dialect.
    pub fn host_profile(self) -> &'static HostProfile {
        match self {
            DialectKind::Air780e => &AIR780E,
            DialectKind::L610 => &L610,
        }
    }
}

/// Every dialect's profile, for a host that does not know which module it talks to (a log
/// does not say).
pub fn host_profiles() -> impl Iterator<Item = &'static HostProfile> {
    DialectKind::ALL.iter().map(|d| d.host_profile())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_has_a_profile_whose_commands_parse() {
        for d in DialectKind::ALL {
            let p = d.host_profile();
            assert!(!p.reset.is_empty(), "{d}");
            for cmd in p.reset {
                assert!(crate::at::parse_line(cmd.as_bytes()).is_ok(), "{d}: {cmd}");
            }
            for a in p.connects.iter().chain(p.logins).chain(p.client_ids) {
                assert!(a.command.starts_with('+'), "{d}: {a:?}");
            }
        }
        assert_ne!(
            DialectKind::Air780e.host_profile().reset,
            DialectKind::L610.host_profile().reset
        );
    }
}
