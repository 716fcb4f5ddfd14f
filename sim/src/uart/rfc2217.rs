//! The server side of RFC 2217 (Telnet Com Port Control Option) over RFC 854 telnet: the
//! host's bytes arrive with `IAC` doubled and interleaved with option negotiation and
//! `COM-PORT-OPTION` subnegotiations (baud rate, data size, parity, stop size, control lines,
//! masks, purge), each of which the server acknowledges with its command code plus 100 and
//! the value now in effect (RFC 2217, "Com Port Configuration Commands"). The settings go to
//! the shared [`Line`]. Pure: bytes in, data and replies out. The same negotiation serves the
//! client side ([`Telnet::client`]), which `modem-harness` uses for `rfc2217://` ports.

use tracing::info;

use super::endpoint::Line;

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const SE: u8 = 240;
const BINARY: u8 = 0;
const ECHO: u8 = 1;
const SGA: u8 = 3;
const COM_PORT_OPTION: u8 = 44;
/// The options we agree to, either way.
const SUPPORTED: &[u8] = &[BINARY, ECHO, SGA, COM_PORT_OPTION];
/// The modem-state bits we report (RFC 2217 NOTIFY-MODEMSTATE): CTS and DSR on, as a
/// powered module drives them; RI and DCD off.
const MODEM_STATE: u8 = 0x10 | 0x20;
/// Longest subnegotiation we keep (a signature is the longest RFC 2217 has).
const MAX_SB: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Iac,
    /// After WILL/WONT/DO/DONT: the option byte next.
    Option(u8),
    Sub,
    SubIac,
}

/// One connection's telnet state: the server's (the module's UART) or a client's.
pub struct Telnet {
    line: Line,
    /// A client ignores the server's com-port answers instead of acting on them.
    client: bool,
    state: State,
    sub: Vec<u8>,
    /// Options we said WILL / DO to (so each is said once, and no negotiation loops).
    sent_will: [bool; 256],
    sent_do: [bool; 256],
    suspended: bool,
    modemstate_mask: u8,
}

impl Telnet {
    pub(crate) fn new(line: Line) -> Self {
        Telnet {
            line,
            client: false,
            state: State::Data,
            sub: Vec::new(),
            sent_will: [false; 256],
            sent_do: [false; 256],
            suspended: false,
            modemstate_mask: 0xFF,
        }
    }

    /// A client's state, and what it says first: binary both ways, com-port commands
    /// (`WILL COM-PORT-OPTION`), and the line: `baud` 8N1 (RFC 2217 SET-BAUDRATE, -DATASIZE,
    /// -PARITY, -STOPSIZE).
    pub fn client(baud: u32) -> (Telnet, Vec<u8>) {
        let mut t = Telnet::new(Line::default());
        t.client = true;
        let mut out = Vec::new();
        for opt in [BINARY, SGA] {
            t.will(opt, &mut out);
            t.do_(opt, &mut out);
        }
        t.will(COM_PORT_OPTION, &mut out);
        out.extend(sub_reply(1, &baud.to_be_bytes()));
        out.extend(sub_reply(2, &[8]));
        out.extend(sub_reply(3, &[1]));
        out.extend(sub_reply(4, &[1]));
        (t, out)
    }

    /// What the server says first: binary both ways, no go-ahead, and it takes com-port
    /// commands (`DO COM-PORT-OPTION`, RFC 2217 section "Com Port Option").
    pub(crate) fn greeting(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for opt in [BINARY, SGA] {
            self.will(opt, &mut out);
            self.do_(opt, &mut out);
        }
        self.do_(COM_PORT_OPTION, &mut out);
        out
    }

    /// Module output for the wire: `IAC` doubled.
    pub fn encode(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            out.push(b);
            if b == IAC {
                out.push(IAC);
            }
        }
        out
    }

    /// The host asked us (FLOWCONTROL-SUSPEND) to stop sending until it resumes.
    pub(crate) fn suspended(&self) -> bool {
        self.suspended
    }

    /// Splits the host's bytes into UART data and the replies its commands need.
    pub fn decode(&mut self, input: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut data = Vec::with_capacity(input.len());
        let mut reply = Vec::new();
        for &b in input {
            self.state = match (self.state, b) {
                (State::Data, IAC) => State::Iac,
                (State::Data, b) => {
                    data.push(b);
                    State::Data
                }
                (State::Iac, IAC) => {
                    data.push(IAC);
                    State::Data
                }
                (State::Iac, WILL | WONT | DO | DONT) => State::Option(b),
                (State::Iac, SB) => {
                    self.sub.clear();
                    State::Sub
                }
                // NOP, GA, BRK, AYT, ...: nothing for a UART to do.
                (State::Iac, _) => State::Data,
                (State::Option(verb), opt) => {
                    self.negotiate(verb, opt, &mut reply);
                    State::Data
                }
                (State::Sub, IAC) => State::SubIac,
                (State::Sub, b) => {
                    if self.sub.len() < MAX_SB {
                        self.sub.push(b);
                    }
                    State::Sub
                }
                (State::SubIac, SE) => {
                    let sub = std::mem::take(&mut self.sub);
                    self.subnegotiation(&sub, &mut reply);
                    State::Data
                }
                (State::SubIac, b) => {
                    // IAC IAC inside a subnegotiation is a 255 in the value.
                    if self.sub.len() < MAX_SB {
                        self.sub.push(b);
                    }
                    State::Sub
                }
            };
        }
        (data, reply)
    }

    fn will(&mut self, opt: u8, out: &mut Vec<u8>) {
        if !self.sent_will[opt as usize] {
            self.sent_will[opt as usize] = true;
            out.extend([IAC, WILL, opt]);
        }
    }

    fn do_(&mut self, opt: u8, out: &mut Vec<u8>) {
        if !self.sent_do[opt as usize] {
            self.sent_do[opt as usize] = true;
            out.extend([IAC, DO, opt]);
        }
    }

    /// RFC 854 option negotiation: agree once to what we support, refuse the rest once.
    fn negotiate(&mut self, verb: u8, opt: u8, out: &mut Vec<u8>) {
        let ok = SUPPORTED.contains(&opt);
        match verb {
            WILL if ok => {
                self.do_(opt, out);
                if opt == COM_PORT_OPTION && !self.client {
                    // The client now sends com-port commands: tell it the lines.
                    out.extend(self.notify_modemstate());
                }
            }
            DO if ok => self.will(opt, out),
            WILL if !self.sent_do[opt as usize] => {
                self.sent_do[opt as usize] = true;
                out.extend([IAC, DONT, opt]);
            }
            DO if !self.sent_will[opt as usize] => {
                self.sent_will[opt as usize] = true;
                out.extend([IAC, WONT, opt]);
            }
            _ => {}
        }
    }

    fn notify_modemstate(&self) -> Vec<u8> {
        sub_reply(107, &[MODEM_STATE & self.modemstate_mask])
    }

    /// A com-port command from the client; the reply is the server's version (code + 100)
    /// with the value in effect.
    fn subnegotiation(&mut self, sub: &[u8], out: &mut Vec<u8>) {
        let [COM_PORT_OPTION, cmd, value @ ..] = sub else {
            return;
        };
        if self.client {
            // The server's answers and notifications: nothing a harness acts on.
            return;
        }
        let one = value.first().copied().unwrap_or(0);
        let now = match cmd {
            0 => b"modem-sim".to_vec(),
            1 => self.baud(value).to_be_bytes().to_vec(),
            2 => vec![self.setting(one, 5..=8, "data bits", |l| &mut l.data_bits)],
            3 => vec![self.setting(one, 1..=5, "parity", |l| &mut l.parity)],
            4 => vec![self.setting(one, 1..=3, "stop bits", |l| &mut l.stop_bits)],
            5 => vec![self.control(one)],
            // The client polls the lines.
            6 => vec![0],
            7 => vec![MODEM_STATE & self.modemstate_mask],
            8 | 9 => {
                // No answer: these are notifications.
                self.suspended = *cmd == 8;
                return;
            }
            10 => vec![one],
            11 => {
                self.modemstate_mask = one;
                vec![one]
            }
            // PURGE-DATA: nothing is buffered on our side of the wire.
            12 => vec![one],
            _ => return,
        };
        out.extend(sub_reply(cmd + 100, &now));
    }

    /// SET-BAUDRATE: 4 bytes, network order; 0 asks for the current rate.
    fn baud(&mut self, value: &[u8]) -> u32 {
        let rate = match value {
            [a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => 0,
        };
        if rate != 0 {
            info!(baud = rate, "the host set the UART's baud rate");
            self.line.update(|l| l.baud = Some(rate));
        }
        self.line.get().baud.unwrap_or(115_200)
    }

    /// SET-DATASIZE / SET-PARITY / SET-STOPSIZE: 0 asks, a value in `range` sets.
    fn setting(
        &mut self,
        v: u8,
        range: std::ops::RangeInclusive<u8>,
        what: &str,
        field: impl Fn(&mut super::endpoint::LineSettings) -> &mut u8,
    ) -> u8 {
        if range.contains(&v) {
            info!(value = v, "the host set the UART's {what}");
            self.line.update(|l| *field(l) = v);
        }
        let mut now = self.line.get();
        *field(&mut now)
    }

    /// SET-CONTROL for a modem-control signal, counted from its first value: 0 asks (the reply
    /// is 1 on, 2 off), 1 sets it on, 2 off.
    fn signal(
        &mut self,
        v: u8,
        name: &str,
        field: impl Fn(&mut super::endpoint::LineSettings) -> &mut bool,
    ) -> u8 {
        if v == 0 {
            let mut now = self.line.get();
            return if *field(&mut now) { 1 } else { 2 };
        }
        let on = v == 1;
        info!(on, "the host set {name}");
        self.line.update(|l| *field(l) = on);
        v
    }

    /// SET-CONTROL: flow control (none only), BREAK, DTR and RTS; the reply is the state.
    fn control(&mut self, v: u8) -> u8 {
        match v {
            // Flow-control requests and settings: none, both ways.
            0..=3 | 13..=19 => {
                if v == 0 || v == 13 {
                    v + 1
                } else {
                    v
                }
            }
            4 => 6,
            5 | 6 => v,
            7..=9 => 7 + self.signal(v - 7, "DTR", |l| &mut l.dtr),
            10..=12 => 10 + self.signal(v - 10, "RTS", |l| &mut l.rts),
            _ => v,
        }
    }
}

/// `IAC SB COM-PORT-OPTION code value IAC SE`, with `IAC` in the value doubled.
fn sub_reply(code: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![IAC, SB, COM_PORT_OPTION, code];
    out.extend(Telnet::encode(value));
    out.extend([IAC, SE]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_unescaped_and_commands_are_answered() {
        let line = Line::default();
        let mut t = Telnet::new(line.clone());
        let g = t.greeting();
        assert_eq!(
            g,
            [IAC, WILL, BINARY, IAC, DO, BINARY, IAC, WILL, SGA, IAC, DO, SGA, IAC, DO, 44]
        );
        // Data with a doubled IAC, the client's WILL COM-PORT-OPTION (already DOne: only the
        // modem state), and SET-BAUDRATE 9600 split across reads.
        let (d, r) = t.decode(&[b'A', IAC, IAC, b'T', IAC, WILL, 44, IAC, SB, 44, 1, 0]);
        assert_eq!(d, [b'A', IAC, b'T']);
        assert_eq!(r, [IAC, SB, 44, 107, 0x30, IAC, SE]);
        let (d, r) = t.decode(&[0, 0x25, 0x80, IAC, SE, b'\r']);
        assert_eq!(d, b"\r");
        assert_eq!(r, [IAC, SB, 44, 101, 0, 0, 0x25, 0x80, IAC, SE]);
        assert_eq!(line.get().baud, Some(9600));
        // Asking (0) does not change it; DTR on; 7 data bits; an unknown option is refused once.
        let (_, r) = t.decode(&[IAC, SB, 44, 1, 0, 0, 0, 0, IAC, SE]);
        assert_eq!(r, [IAC, SB, 44, 101, 0, 0, 0x25, 0x80, IAC, SE]);
        let (_, r) = t.decode(&[IAC, SB, 44, 5, 8, IAC, SE, IAC, SB, 44, 2, 7, IAC, SE]);
        assert_eq!(
            r,
            [IAC, SB, 44, 105, 8, IAC, SE, IAC, SB, 44, 102, 7, IAC, SE]
        );
        let l = line.get();
        assert!(l.dtr && l.data_bits == 7);
        let (_, r) = t.decode(&[IAC, DO, 24, IAC, DO, 24]);
        assert_eq!(r, [IAC, WONT, 24]);
        // A rate with 0xFF in it is escaped both ways.
        let (_, r) = t.decode(&[IAC, SB, 44, 1, 0, 0, IAC, IAC, 1, IAC, SE]);
        assert_eq!(r, [IAC, SB, 44, 101, 0, 0, IAC, IAC, 1, IAC, SE]);
        assert_eq!(line.get().baud, Some(0xFF01));
        assert_eq!(Telnet::encode(&[1, IAC, 2]), [1, IAC, IAC, 2]);
    }

    /// Our client and our server agree with each other, and the server takes the client's rate.
    #[test]
    fn client_and_server_agree() {
        let line = Line::default();
        let mut server = Telnet::new(line.clone());
        let (mut client, hello) = Telnet::client(9600);
        let to_client = server.greeting();
        let (data, to_server) = client.decode(&to_client);
        assert!(data.is_empty());
        let (data, back) = server.decode(&[hello, to_server].concat());
        assert!(data.is_empty());
        assert_eq!(line.get().baud, Some(9600));
        let (data, again) = client.decode(&back);
        assert!(data.is_empty() && again.is_empty(), "{again:?}");
        let (data, _) = client.decode(&Telnet::encode(b"\r\nOK\r\n\xff"));
        assert_eq!(data, b"\r\nOK\r\n\xff");
    }

    #[test]
    fn suspend_and_resume_flow() {
        let mut t = Telnet::new(Line::default());
        t.decode(&[IAC, SB, 44, 8, IAC, SE]);
        assert!(t.suspended());
        t.decode(&[IAC, SB, 44, 9, IAC, SE]);
        assert!(!t.suspended());
    }
}
