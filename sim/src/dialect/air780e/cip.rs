//! The TCP/IP stack's sockets: `AT+CIPSTART`, `AT+CIPSEND`, `AT+CIPCLOSE`, `AT+CIPSTATUS`
//! per link, `AT+CIPHEAD`, `AT+CIPSRIP`, `AT+CIPSHOWTP`, `AT+CIPRXF`, the transparent mode
//! (`AT+CIPMODE=1`, `+++`, `ATO`), `AT+CIPACK`, `AT+CIPCCFG`, on the dialect-neutral socket
//! layer (`net::socket`).
//!
//! Sources, cited per command: luatos-doc-pool `doc/AT开发资料/AT_Command_Manual/docs/
//! Command_List/TCPIP/` (the pages by command name, and `使用方法举例.md`, the manual's worked
//! examples: "TCP非透传应用1", "多连接应用1/2", "单链接非透传时接收数据", "多链接非透传时接收数据",
//! "透明传输应用1/2"), the TCP guide `public/780EP_AT_TCP应用指南.md` (a V1007 log in its
//! section 3), and `public/20240924_air780ep_at_tcp_sendData_error.md` (a field report: a send
//! after the server closed answers `+CME ERROR: 3`, `AT+CIPSTATUS` says `TCP CLOSED`, the
//! module printed `CLOSED`). Where they disagree: fixtures/DIVERGENCES.md S1-S8, S12, S13.

use bytes::Bytes;

use crate::at::Form;
use crate::dialect::params::one_number;
use crate::dialect::{Out, Prompt};
use crate::drops::DropLog;
use crate::modem::{CellState, Cip};
use crate::net::socket::MAX_READ;
use crate::net::{LinkId, NetEvent, NetEventKind, NetRequest, SockProto, TlsOptions};

use super::bearer::Bearer;
use super::{num_in, set_args};

/// The socket link ids start here, far above the MQTT link's, so an event finds its owner.
pub const SOCKET_LINK_BASE: LinkId = 1 << 32;
/// Link numbers `<n>` 0..=5 (CIPSTART.md, CIPSEND.md, CIPCLOSE.md).
pub const LINKS: usize = 6;
/// The most one `AT+CIPSEND` takes: `<size>`, "目前是1460字节" (CIPSEND.md; the TCP guide
/// section 1.7: "最大1460字节").
pub const SEND_MAX: usize = 1460;
/// What the module keeps of a transparent link's incoming data while it takes commands
/// (after `+++`, before `ATO`); beyond it, bytes are dropped and counted.
pub const HELD_MAX: usize = 64 * 1024;
/// `+CME ERROR: 3`: not allowed in this state (CIPSTART.md; the TCP guide section 3:
/// `AT+CIPSTART=1,...` in single-link mode; the field report: a send on a closed link).
const NOT_ALLOWED: u16 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting,
    Connected,
    /// The peer closed it (`CLOSED`) or the host did (`CLOSE OK`).
    Closed,
}

#[derive(Debug, Clone)]
struct Sock {
    link: LinkId,
    proto: SockProto,
    host: String,
    port: u16,
    state: State,
    /// Sends waiting for their `SEND OK`.
    sending: usize,
    /// `AT+CIPACK`'s `<txlen>`: the bytes handed to the socket since it was started.
    sent: u64,
    /// `AT+CIPACK`'s `<acklen>`: of those, the bytes the socket layer has written to the
    /// kernel (DIVERGENCES S12).
    acked: u64,
}

/// Where the transparent link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Transparent {
    #[default]
    Off,
    /// Bytes go straight through.
    Data,
    /// After `+++`: commands, until `ATO`.
    Command,
}

/// The sockets and their settings.
#[derive(Debug, Default)]
pub struct Sockets {
    slots: [Option<Sock>; LINKS],
    next_link: LinkId,
    /// `AT+CIPHEAD=1`: `+IPD,<len>:` before received data (CIPHEAD.md).
    head: bool,
    /// `AT+CIPSRIP=1`: `RECV FROM:<ip>:<port>` before it (CIPSRIP.md).
    srip: bool,
    /// `AT+CIPSHOWTP=1`: `+IPD,<len>,TCP:` (使用方法举例.md, 单链接非透传时接收数据).
    showtp: bool,
    /// `AT+CIPRXF=1`: no `\r\n` after received data (CIPRXF.md; 0, the default, adds one).
    rxf: bool,
    /// `AT+CIPSPRT`: 1 (the default) prompts `> ` and reports the send, 0 reports it without
    /// the prompt, 2 does neither (CIPSPRT.md).
    sprt: Sprt,
    transparent: Transparent,
    /// A transparent link's data that came in command mode, for `ATO`.
    held: Vec<u8>,
    drops: DropLog,
    /// `AT+CIPCCFG`'s fields, in [`CCFG`]'s order.
    ccfg: Ccfg,
}

/// `AT+CIPCCFG`'s fields: name, range and default (CIPCCFG.md; the defaults the page does not
/// give are inferred, DIVERGENCES S13). Only `<SendSz>` changes what the simulator does.
const CCFG: [(&str, std::ops::RangeInclusive<u32>, u32); 8] = [
    ("NmRetry", 3..=8, 5),
    ("WaitTm", 2..=10, 2),
    ("SendSz", 1..=1460, 1024),
    ("esc", 0..=1, 0),
    ("Rxmode", 0..=1, 0),
    ("RxSize", 50..=1460, 1460),
    ("Rxtimer", 20..=1000, 50),
    ("BufClean", 0..=1, 0),
];

/// Where `<SendSz>` is in [`CCFG`].
const SEND_SZ: usize = 2;

/// `AT+CIPCCFG`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ccfg([u32; 8]);

impl Default for Ccfg {
    fn default() -> Self {
        Ccfg(CCFG.map(|(_, _, default)| default))
    }
}

/// An `AT+CIPSEND` waiting for its data: the link it sends on (the dialect's
/// [`Pending`](crate::dialect::pending::Pending)).
#[derive(Debug)]
pub struct PendingSend {
    slot: usize,
}

/// `AT+CIPSPRT=<send prompt>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sprt(u8);

impl Default for Sprt {
    fn default() -> Self {
        Sprt(1)
    }
}

/// A socket command's parsed link number and the rest of its parameters.
struct Target {
    slot: usize,
    mux: bool,
}

impl Sockets {
    fn slot_of(&self, link: LinkId) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.link == link))
    }

    /// The event is for one of our sockets.
    pub fn owns(&self, link: LinkId) -> bool {
        link >= SOCKET_LINK_BASE && self.slot_of(link).is_some()
    }

    /// A socket is open or opening (`AT+CIPSTATUS` and `AT+CIPMUX` care).
    pub fn any_open(&self) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|s| s.state != State::Closed)
    }

    /// The single-link state `AT+CIPSTATUS` prints when a socket was started (CIPSTATUS.md
    /// `<sl_state>`: `TCP CONNECTING`, `CONNECT OK`, `TCP CLOSED`...), else `None`.
    pub fn single_state(&self) -> Option<&'static str> {
        let s = self.slots[0].as_ref()?;
        Some(match (s.state, s.proto) {
            (State::Connecting, SockProto::Tcp) => "TCP CONNECTING",
            (State::Connecting, SockProto::Udp) => "UDP CONNECTING",
            (State::Connected, _) => "CONNECT OK",
            (State::Closed, SockProto::Tcp) => "TCP CLOSED",
            (State::Closed, SockProto::Udp) => "UDP CLOSED",
        })
    }

    /// `<n>, ` before a multi-link answer, nothing with one link.
    fn tag(t: &Target, text: &str) -> String {
        if t.mux {
            format!("{}, {text}", t.slot)
        } else {
            text.to_string()
        }
    }

    /// `AT+CIPSTART=<mode>,<server>,<port>` (one link) or `AT+CIPSTART=<n>,<mode>,<server>,
    /// <port>` (`AT+CIPMUX=1`) -> `OK`, then `CONNECT OK` (`<n>, CONNECT OK`), `CONNECT` in
    /// the transparent mode, `ALREADY CONNECT` for a link that is up, or `STATE: <state>` and
    /// `CONNECT FAIL` (`<n>, CONNECT FAIL`) (CIPSTART.md; the TCP guide sections 1.6 and 3;
    /// 使用方法举例.md). Quotes are optional and the port may be quoted. One link: allowed in
    /// `IP INITIAL` (the module brings the bearer up itself: 使用方法举例.md, TCP非透传应用2),
    /// `IP STATUS` and after a close; several: only after `AT+CIICR`/`AT+CIFSR` (`IP STATUS`,
    /// `IP PROCESSING`). Elsewhere, and for the other mode's form, `+CME ERROR: 3` (the TCP
    /// guide: `AT+CIPSTART=1,...` with one link). With `AT+CIPSSL=1` a TLS handshake follows,
    /// with `AT+SSLCFG` context 0 (one link) or `<n>` (CIPSSL.md, SSLCFG.md).
    pub fn cipstart(
        &mut self,
        cell: &mut CellState,
        bearer: &Bearer,
        form: &Form,
        out: &mut Out,
        tls: impl FnOnce(u32, &str) -> TlsOptions,
    ) {
        let mux = bearer.mux;
        match form {
            Form::Test => return Self::cipstart_syntax(mux, out),
            Form::Read | Form::Exec => return out.error(),
            Form::Set(_) => {}
        }
        let Some(args) = set_args(form) else {
            return out.error();
        };
        let (slot, rest) = match (mux, args.as_slice()) {
            (false, [m, h, p]) => (Some(0), [m, h, p]),
            (true, [n, m, h, p]) => (num_in(Some(n), 0..=5).map(|n| n as usize), [m, h, p]),
            (false, [_, _, _, _]) | (true, [_, _, _]) => return out.line(cell.cme(NOT_ALLOWED)),
            _ => return out.error(),
        };
        let [mode, host, port] = rest;
        let proto = match mode.text().to_ascii_uppercase().as_str() {
            "TCP" => SockProto::Tcp,
            "UDP" => SockProto::Udp,
            _ => return out.error(),
        };
        let host = host.text();
        let (Some(slot), Some(port)) = (slot, num_in(Some(port), 1..=65535)) else {
            return out.error();
        };
        if host.is_empty() || host.len() > 128 {
            return out.error();
        }
        let t = Target { slot, mux };
        if let Some(s) = &self.slots[slot] {
            if s.state != State::Closed {
                out.ok();
                return out.line(Self::tag(&t, "ALREADY CONNECT"));
            }
        }
        let allowed = if mux {
            cell.cip == Cip::Status
        } else {
            matches!(cell.cip, Cip::Initial | Cip::Status)
        };
        // The transparent mode is for one link only (CIPMODE.md).
        if !allowed || (mux && bearer.transparent()) {
            return out.line(cell.cme(NOT_ALLOWED));
        }
        out.ok();
        if !cell.data_ready() {
            return self.connect_fail(&t, bearer, cell, out);
        }
        cell.cip = Cip::Status;
        // The SSL context is the link's number, 0 with one link (SSLCFG.md `<n>`).
        let tls = (bearer.ssl() && proto == SockProto::Tcp).then(|| tls(slot as u32, &host));
        self.open(slot, proto, host, port as u16, tls, out)
    }

    /// `AT+CIPSTART=?`: the syntax, with the link number under `AT+CIPMUX=1` (CIPSTART.md).
    fn cipstart_syntax(mux: bool, out: &mut Out) {
        let n = if mux { "(0-5)," } else { "" };
        out.line(format!(
            "+CIPSTART: {n}(\"TCP\",\"UDP\"),(\"(0-255).(0-255).(0-255).(0-255)\"),(1-65535)"
        ));
        out.line(format!(
            "+CIPSTART: {n}(\"TCP\",\"UDP\"),(\"DOMAIN NAME\"),(1-65535)"
        ));
        out.ok()
    }

    /// Opens slot `slot`'s link: `CONNECT OK` (or `CONNECT FAIL`) follows when it is up.
    fn open(
        &mut self,
        slot: usize,
        proto: SockProto,
        host: String,
        port: u16,
        tls: Option<TlsOptions>,
        out: &mut Out,
    ) {
        self.next_link += 1;
        let link = SOCKET_LINK_BASE + self.next_link;
        self.slots[slot] = Some(Sock {
            link,
            proto,
            host: host.clone(),
            port,
            state: State::Connecting,
            sending: 0,
            sent: 0,
            acked: 0,
        });
        out.net(NetRequest::SockOpen {
            link,
            proto,
            host,
            port,
            tls,
        });
    }

    /// `STATE: <state>` then `CONNECT FAIL` with one link (the TCP guide section 3:
    /// `STATE: IP STATUS` / `CONNECT FAIL`); `<n>, CONNECT FAIL` with several (CIPSTART.md).
    fn connect_fail(&mut self, t: &Target, bearer: &Bearer, cell: &CellState, out: &mut Out) {
        self.slots[t.slot] = None;
        if !t.mux {
            out.line(format!("STATE: {}", bearer.state(cell, false)));
        }
        out.line(Self::tag(t, "CONNECT FAIL"));
    }

    /// The link a send or close names: `[<n>, ...]` with several links, none with one.
    fn target<'a>(
        &self,
        mux: bool,
        args: &'a [crate::at::Arg],
    ) -> Option<(Target, &'a [crate::at::Arg])> {
        if mux {
            let (n, rest) = args.split_first()?;
            let slot = num_in(Some(n), 0..=5)? as usize;
            Some((Target { slot, mux }, rest))
        } else {
            Some((Target { slot: 0, mux }, args))
        }
    }

    /// `AT+CIPSEND` (Ctrl-Z ends the data, ESC abandons it), `AT+CIPSEND=<length>`, and with
    /// several links `AT+CIPSEND=<n>[,<length>]` -> `> ` then the data, then `SEND OK`
    /// (`<n>, SEND OK`) once it went out, or at once `DATA ACCEPT:<length>`
    /// (`DATA ACCEPT:<n>,<length>`) under `AT+CIPQSEND=1` (CIPSEND.md, CIPQSEND.md;
    /// 使用方法举例.md). At most 1460 bytes. No link up (never opened, closed, the peer closed
    /// it): `+CME ERROR: 3` (CIPSEND.md; the field report). Read: `+CIPSEND: <size>`; test:
    /// `+CIPSEND: <length>`.
    pub fn cipsend(
        &mut self,
        cell: &CellState,
        bearer: &Bearer,
        form: &Form,
        out: &mut Out,
    ) -> Option<PendingSend> {
        let mux = bearer.mux;
        let (t, len) =
            match form {
                Form::Test => {
                    let n = if mux { "(0-5)," } else { "" };
                    out.line(format!("+CIPSEND: {n}{SEND_MAX}"));
                    {
                        out.ok();
                        return None;
                    }
                }
                Form::Read => {
                    if mux {
                        for (n, _) in self.slots.iter().enumerate().filter(|(_, s)| {
                            s.as_ref().is_some_and(|s| s.state == State::Connected)
                        }) {
                            out.line(format!("+CIPSEND: {n},{SEND_MAX}"));
                        }
                    } else {
                        out.line(format!("+CIPSEND: {SEND_MAX}"));
                    }
                    {
                        out.ok();
                        return None;
                    }
                }
                Form::Exec if mux => {
                    out.error();
                    return None;
                }
                Form::Exec => (Target { slot: 0, mux }, None),
                Form::Set(_) => {
                    let Some(args) = set_args(form) else {
                        {
                            out.error();
                            return None;
                        };
                    };
                    match self.target(mux, &args) {
                        Some((t, [])) if mux => (t, None),
                        Some((t, [len])) => match num_in(Some(len), 1..=SEND_MAX as u32) {
                            Some(len) => (t, Some(len as usize)),
                            None => {
                                out.error();
                                return None;
                            }
                        },
                        _ => {
                            out.error();
                            return None;
                        }
                    }
                }
            };
        let up = self.slots[t.slot]
            .as_ref()
            .is_some_and(|s| s.state == State::Connected);
        if !up || self.transparent != Transparent::Off {
            out.line(cell.cme(NOT_ALLOWED));
            return None;
        }
        if self.sprt.0 == 1 {
            out.raw(b"\r\n> ");
        }
        let prompt = match len {
            Some(len) => Prompt::Exact(len),
            None => Prompt::UntilCtrlZ(SEND_MAX),
        };
        out.prompt(prompt, super::mqtt::PROMPT_IDLE);
        Some(PendingSend { slot: t.slot })
    }

    /// The data of an `AT+CIPSEND`.
    pub fn send_data(&mut self, bearer: &Bearer, p: PendingSend, data: Vec<u8>, out: &mut Out) {
        let slot = p.slot;
        let t = Target {
            slot,
            mux: bearer.mux,
        };
        let Some(s) = self.slots[slot]
            .as_mut()
            .filter(|s| s.state == State::Connected)
        else {
            // The link went while the data was on its way.
            return out.line(Self::tag(&t, "SEND FAIL"));
        };
        if data.is_empty() {
            return out.error();
        }
        let len = data.len();
        s.sent += len as u64;
        out.net(NetRequest::SockSend {
            link: s.link,
            data: Bytes::from(data),
        });
        if self.sprt.0 == 2 {
            // CIPSPRT.md: "不返回 \"SEND OK\" 或\"DATA ACCEPT\"".
        } else if bearer.qsend() == 1 {
            let accept = if t.mux {
                format!("DATA ACCEPT:{slot},{len}")
            } else {
                format!("DATA ACCEPT:{len}")
            };
            out.line(accept);
        } else {
            s.sending += 1;
        }
    }

    /// `AT+CIPCLOSE[=<id>]` (one link) -> `CLOSE OK`; `AT+CIPCLOSE=<n>[,<id>]` (several) ->
    /// `<n>, CLOSE OK`; `ERROR` when the link is not connecting or connected, and for the
    /// execute form with several links (CIPCLOSE.md 注意事项 1, 2). `<id>` (slow or quick
    /// close) is 0 or 1; both close at once here. Afterwards `AT+CIPSTATUS` reads
    /// `TCP CLOSED` (使用方法举例.md).
    pub fn cipclose(&mut self, bearer: &Bearer, form: &Form, out: &mut Out) {
        let mux = bearer.mux;
        let t = match form {
            Form::Test => return out.ok(),
            Form::Read => return out.error(),
            Form::Exec if mux => return out.error(),
            Form::Exec => Target { slot: 0, mux },
            Form::Set(_) => {
                let Some(args) = set_args(form) else {
                    return out.error();
                };
                match self.target(mux, &args) {
                    Some((t, [])) if mux => t,
                    Some((t, [id])) if num_in(Some(id), 0..=1).is_some() => t,
                    _ => return out.error(),
                }
            }
        };
        let Some(s) = self.slots[t.slot]
            .as_mut()
            .filter(|s| s.state != State::Closed)
        else {
            return out.error();
        };
        s.state = State::Closed;
        s.sending = 0;
        let link = s.link;
        if t.slot == 0 {
            self.leave_transparent(out);
        }
        out.line(Self::tag(&t, "CLOSE OK"));
        out.net(NetRequest::Close { link });
    }

    /// `AT+CIPSTATUS` with several links: `OK`, `STATE: <ml_state>`, then
    /// `C: <n>,<bearer>,"<TCP/UDP>","<ip>","<port>","<client state>"` for links 0-5
    /// (`C: 0,,"","","","INITIAL"` for an unused one); `AT+CIPSTATUS=<n>` one link's line,
    /// `+CIPSTATUS: <n>,...` (CIPSTATUS.md; 使用方法举例.md, 多连接应用1; DIVERGENCES S4).
    /// With one link the `STATE:` line is [`Sockets::single_state`] or the bearer's.
    pub fn cipstatus(
        &self,
        cell: &CellState,
        bearer: &Bearer,
        mqtt_up: bool,
        form: &Form,
        out: &mut Out,
    ) {
        match form {
            Form::Test => out.ok(),
            Form::Read => out.error(),
            Form::Exec if !bearer.mux => {
                out.ok();
                let state = self
                    .single_state()
                    .unwrap_or_else(|| bearer.state(cell, mqtt_up));
                out.line(format!("STATE: {state}"));
            }
            Form::Exec => {
                out.ok();
                let state = if cell.cip == Cip::Status && cell.pdp_active && self.any_open() {
                    "IP PROCESSING"
                } else {
                    bearer.state(cell, false)
                };
                out.line(format!("STATE: {state}"));
                for n in 0..LINKS {
                    out.line(format!("C: {}", self.link_line(n)));
                }
            }
            Form::Set(_) if bearer.mux => match set_args(form).as_deref() {
                Some([n]) => match num_in(Some(n), 0..=5) {
                    Some(n) => {
                        out.line(format!("+CIPSTATUS: {}", self.link_line(n as usize)));
                        out.ok()
                    }
                    None => out.error(),
                },
                _ => out.error(),
            },
            Form::Set(_) => out.error(),
        }
    }

    fn link_line(&self, n: usize) -> String {
        match &self.slots[n] {
            None => format!("{n},,\"\",\"\",\"\",\"INITIAL\""),
            Some(s) => {
                let state = match s.state {
                    State::Connecting => "CONNECTING",
                    State::Connected => "CONNECTED",
                    State::Closed => "CLOSED",
                };
                format!(
                    "{n},0,\"{}\",\"{}\",\"{}\",\"{state}\"",
                    s.proto.as_str(),
                    s.host,
                    s.port
                )
            }
        }
    }

    /// `AT+CIPHEAD`, `AT+CIPSRIP`, `AT+CIPSHOWTP`, `AT+CIPRXF`: 0/1 switches of how received
    /// data is shown (CIPHEAD.md, CIPSRIP.md, CIPRXF.md; 使用方法举例.md for CIPSHOWTP).
    pub fn switch(&mut self, name: &str, form: &Form, out: &mut Out) {
        let flag = match name {
            "+CIPHEAD" => &mut self.head,
            "+CIPSRIP" => &mut self.srip,
            "+CIPSHOWTP" => &mut self.showtp,
            _ => &mut self.rxf,
        };
        if let Some(n) = super::number_setting(form, out, name, 0..=1, u32::from(*flag)) {
            *flag = n == 1;
        }
    }

    /// `AT+CIPSPRT=<0|1|2>` -> `OK`: whether `AT+CIPSEND` prompts `> ` and reports the send
    /// (CIPSPRT.md: 0 no prompt, still `SEND OK`/`DATA ACCEPT`; 1, the default, both; 2
    /// neither). Aliyun's LinkSDK sends `AT+CIPSPRT=1` to an Air724UG (DIVERGENCES S10).
    pub fn cipsprt(&mut self, form: &Form, out: &mut Out) {
        if *form == Form::Test {
            out.line("+CIPSPRT: (0,1,2)");
            return out.ok();
        }
        if let Some(n) = super::number_setting(form, out, "+CIPSPRT", 0..=2, self.sprt.0.into()) {
            self.sprt = Sprt(n as u8);
        }
    }

    /// `AT+CIPACK` (one link) or `AT+CIPACK=<n>` (`AT+CIPMUX=1`) ->
    /// `+CIPACK: <txlen>,<acklen>,<nacklen>` then `OK`: the bytes sent on the link since it was
    /// started, those acknowledged, those not yet (CIPACK.md). A link never started, or gone
    /// with `AT+CIPSHUT`, counts 0 (CIPACK.md 注意事项: all three are 0 after `AT+CIPSHUT`);
    /// a closed one keeps its counts until it is started again. Test: `OK`. The other mode's
    /// form and a bad `<n>`: `ERROR`. No blank after the commas, as the SIM800-family captures
    /// print it (DIVERGENCES S12).
    pub fn cipack(&self, bearer: &Bearer, form: &Form, out: &mut Out) {
        let slot = match form {
            Form::Test => return out.ok(),
            Form::Exec if !bearer.mux => 0,
            Form::Set(_) if bearer.mux => match one_number(form, 0..=5) {
                Some(n) => n as usize,
                None => return out.error(),
            },
            _ => return out.error(),
        };
        let (tx, ack) = self.slots[slot]
            .as_ref()
            .map_or((0, 0), |s| (s.sent, s.acked));
        out.line(format!("+CIPACK: {tx},{ack},{}", tx - ack));
        out.ok()
    }

    /// `AT+CIPCCFG=<NmRetry>,<WaitTm>,<SendSz>,<esc>[,<Rxmode>,<RxSize>,<Rxtimer>,<BufClean>]`
    /// -> `OK`; `AT+CIPCCFG?` -> `+CIPCCFG: <all eight>`; `AT+CIPCCFG=?` the ranges
    /// (CIPCCFG.md). Set only with one link and `AT+CIPMODE=1` (注意事项), elsewhere
    /// `+CME ERROR: 3`; a value out of its range, fewer than 4 or more than 8 values: `ERROR`.
    /// 5 to 7 values set those and keep the rest (the SIM800 drivers' 7). Only `<SendSz>`
    /// acts (the transparent mode's packets); `<esc>` is ignored as the page says (`+++`
    /// always escapes); the rest are remembered only (DIVERGENCES S13).
    pub fn cipccfg(&mut self, cell: &CellState, bearer: &Bearer, form: &Form, out: &mut Out) {
        let shown: Vec<String> = match form {
            Form::Test => CCFG
                .iter()
                .map(|(name, range, _)| {
                    let (lo, hi) = (range.start(), range.end());
                    let sep = if hi - lo == 1 { ',' } else { '-' };
                    format!("({name}:{lo}{sep}{hi})")
                })
                .collect(),
            Form::Read => self.ccfg.0.iter().map(u32::to_string).collect(),
            Form::Exec => return out.error(),
            Form::Set(_) => {
                let args = set_args(form).unwrap_or_default();
                let mut next = self.ccfg.0;
                let valid =
                    (4..=8).contains(&args.len())
                        && args.iter().zip(&mut next).zip(&CCFG).all(|((a, v), c)| {
                            num_in(Some(a), c.1.clone()).map(|n| *v = n).is_some()
                        });
                if !valid {
                    return out.error();
                }
                if bearer.mux || !bearer.transparent() {
                    return out.line(cell.cme(NOT_ALLOWED));
                }
                self.ccfg = Ccfg(next);
                return out.ok();
            }
        };
        out.line(format!("+CIPCCFG: {}", shown.join(",")));
        out.ok()
    }

    /// `ATO` -> `CONNECT`, back to the transparent link's data (ATO.md: "TA 继续数据传输连接");
    /// `NO CARRIER` when there is none to go back to.
    pub fn ato(&mut self, form: &Form, out: &mut Out) {
        if *form != Form::Exec {
            return out.error();
        }
        let up = self.slots[0]
            .as_ref()
            .is_some_and(|s| s.state == State::Connected);
        if self.transparent != Transparent::Command || !up {
            return out.line("NO CARRIER");
        }
        out.line("CONNECT");
        self.transparent = Transparent::Data;
        out.transparent(true);
        let held = std::mem::take(&mut self.held);
        if !held.is_empty() {
            out.raw(&held);
        }
    }

    /// `+++` came: command mode, the link stays (使用方法举例.md: `OK`).
    pub fn on_escape(&mut self, out: &mut Out) {
        if self.transparent == Transparent::Data {
            self.transparent = Transparent::Command;
        }
        out.ok();
    }

    /// The host's bytes in the transparent mode go out as they came, in packets of at most
    /// `AT+CIPCCFG`'s `<SendSz>` bytes (CIPCCFG.md: 1..1460, 1024 by default), without an
    /// answer.
    pub fn on_transparent(&mut self, data: Vec<u8>, out: &mut Out) {
        let size = self.ccfg.0[SEND_SZ] as usize;
        let Some(s) = self.slots[0]
            .as_mut()
            .filter(|s| s.state == State::Connected)
        else {
            tracing::warn!(
                bytes = data.len(),
                "transparent data without a link: dropped"
            );
            return;
        };
        s.sent += data.len() as u64;
        for piece in data.chunks(size) {
            out.net(NetRequest::SockSend {
                link: s.link,
                data: Bytes::copy_from_slice(piece),
            });
        }
    }

    fn leave_transparent(&mut self, out: &mut Out) {
        if self.transparent == Transparent::Data {
            out.transparent(false);
        }
        self.transparent = Transparent::Off;
        self.held.clear();
    }

    /// `AT+CIPSHUT`: every link goes (使用方法举例.md: "如果想关闭所有的连接").
    pub fn shut(&mut self, out: &mut Out) {
        for s in self.slots.iter_mut().filter_map(Option::take) {
            if s.state != State::Closed {
                out.net(NetRequest::Close { link: s.link });
            }
        }
        self.leave_transparent(out);
    }

    /// The bearer went (PDN deactivated, registration lost, radio off): every link ends
    /// without `CLOSED`. Returns whether one was open, for the `+PDP: DEACT` URC.
    pub fn network_lost(&mut self, out: &mut Out) -> bool {
        let mut had = false;
        for s in self.slots.iter_mut().flatten() {
            if s.state != State::Closed {
                had = true;
                s.state = State::Closed;
                s.sending = 0;
                out.net(NetRequest::Close { link: s.link });
            }
        }
        self.leave_transparent(out);
        had
    }

    /// What the module prints when a socket's network answers.
    pub fn on_net(&mut self, bearer: &Bearer, cell: &CellState, ev: NetEvent, out: &mut Out) {
        let Some(slot) = self.slot_of(ev.link) else {
            return;
        };
        let t = Target {
            slot,
            mux: bearer.mux,
        };
        let Some(s) = self.slots[slot].as_mut() else {
            return;
        };
        if s.state == State::Closed {
            tracing::debug!(link = ev.link, ?ev.kind, "event from a socket the module closed");
            return;
        }
        match ev.kind {
            NetEventKind::Connected => {
                s.state = State::Connected;
                if !t.mux && bearer.transparent() {
                    // 使用方法举例.md, 透明传输应用1: `CONNECT`, then the data mode.
                    out.line("CONNECT");
                    self.transparent = Transparent::Data;
                    out.transparent(true);
                } else {
                    out.line(Self::tag(&t, "CONNECT OK"));
                }
            }
            NetEventKind::ConnectFailed(reason) => {
                tracing::info!(link = ev.link, %reason, "CONNECT FAIL");
                self.connect_fail(&t, bearer, cell, out);
            }
            NetEventKind::SockSent(n) => {
                s.acked = (s.acked + n as u64).min(s.sent);
                if s.sending > 0 && self.sprt.0 != 2 {
                    s.sending -= 1;
                    out.line(Self::tag(&t, "SEND OK"));
                }
            }
            NetEventKind::SockData { data, from } => self.deliver(&t, &data, from, out),
            NetEventKind::Closed(reason) => {
                tracing::info!(link = ev.link, ?reason, "socket lost: CLOSED");
                let failed = std::mem::take(&mut s.sending);
                s.state = State::Closed;
                for _ in 0..failed {
                    out.line(Self::tag(&t, "SEND FAIL"));
                }
                if slot == 0 {
                    self.leave_transparent(out);
                }
                out.line(Self::tag(&t, "CLOSED"));
            }
            other => tracing::debug!(link = ev.link, ?other, "not a socket event"),
        }
    }

    /// Received data, as `AT+CIPHEAD`/`CIPSRIP`/`CIPSHOWTP`/`CIPRXF` say with one link
    /// (`RECV FROM:<ip>:<port>`, `+IPD,<len>[,TCP]:<data>`, or the bare data), and as
    /// `+RECEIVE,<n>,<len>:` with the data on the next line with several (+RECEIVE.md);
    /// a `\r\n` after the data unless `AT+CIPRXF=1` (CIPRXF.md). Raw in the transparent mode.
    fn deliver(&mut self, t: &Target, data: &[u8], from: std::net::SocketAddr, out: &mut Out) {
        if !t.mux && t.slot == 0 {
            match self.transparent {
                Transparent::Data => return out.raw(data),
                Transparent::Command => {
                    let room = HELD_MAX.saturating_sub(self.held.len());
                    let keep = data.len().min(room);
                    self.held.extend_from_slice(&data[..keep]);
                    if keep < data.len() {
                        let lost = (data.len() - keep) as u64;
                        if let Some((n, total)) = self.drops.record(lost) {
                            tracing::warn!(dropped = n, total, "transparent link data beyond {HELD_MAX} bytes while in command mode: dropped");
                        }
                    }
                    return;
                }
                Transparent::Off => {}
            }
        }
        debug_assert!(data.len() <= MAX_READ);
        if t.mux {
            out.raw(format!("\r\n+RECEIVE,{},{}:\r\n", t.slot, data.len()).as_bytes());
        } else {
            if self.srip {
                out.raw(format!("\r\nRECV FROM:{}:{}", from.ip(), from.port()).as_bytes());
            }
            if self.head {
                let tp = if self.showtp {
                    let proto = self.slots[t.slot]
                        .as_ref()
                        .map_or("TCP", |s| s.proto.as_str());
                    format!(",{proto}")
                } else {
                    String::new()
                };
                out.raw(format!("\r\n+IPD,{}{tp}:", data.len()).as_bytes());
            } else if self.srip {
                out.raw(b"\r\n");
            }
        }
        out.raw(data);
        if !self.rxf {
            out.raw(b"\r\n");
        }
    }

    /// Power is gone: links end without a word, settings are lost (RAM).
    pub fn power_off(&mut self, out: &mut Out) {
        for s in self.slots.iter().flatten() {
            if s.state != State::Closed {
                out.net(NetRequest::Close { link: s.link });
            }
        }
        let next_link = self.next_link;
        self.leave_transparent(out);
        *self = Sockets {
            next_link,
            ..Sockets::default()
        };
    }
}
