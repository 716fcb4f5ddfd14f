//! `AT+MIPOPEN`, `AT+MIPSEND`, `AT+MIPPUSH`, `AT+MIPCLOSE`, `AT+GTSET="IPRFMT"`: the L610's raw
//! TCP, UDP and TLS sockets on the data call `AT+MIPCALL` makes. The sockets themselves are the
//! dialect-neutral layer in `crate::net` (`NetRequest::SockOpen` and friends); this unit is
//! only what the module prints.
//!
//! Fibocom's L610 AT manual is not public. What is here rests on, in this order (each choice
//! that is an inference is a row `L3x` in fixtures/DIVERGENCES.md):
//! - `tuya-l610` — scripts run against a real L610 (`L610-CN-62-36`, firmware
//!   `16000.1208.00.86.02.02`), that log their byte-level exchanges and quote the manual:
//!   `AT+MIPOPEN?` lists the free socket ids 1..6; `AT+MIPOPEN=<id>,,"<host>",<port>,2` opens a
//!   TLS socket and ends with `+MIPOPEN: <id>,1`; `AT+MIPSEND=<id>,<len>` prompts `>`, takes
//!   exactly `<len>` raw bytes ("automatically pushed to the socket", no terminator) and reports
//!   `+MIPSEND: <id>,0,...`; incoming data is `+MIPRTCP: <id>,<len>,<hex>`; `AT+MIPCLOSE?` lists
//!   the open sockets, `AT+MIPCLOSE=<id>` ends with `+MIPCLOSE: <id>...`; an asynchronous close
//!   is a `+MIPSTAT:` or `+MIPCLOSE:` line.
//! - `rt-thread at_socket_l610.c` (RT-Thread at_device package, 2020-10-28) and `oneos
//!   l610_netconn.c` (China Mobile OneOS, 2020-11-16): public L610 socket drivers.
//!   `AT+MIPOPEN=<id>,,"<ip>",<port>,<0 TCP|1 UDP>`, sends cut to 2048 bytes per
//!   `AT+MIPSEND=<id>,<len>`, `+MIPPUSH: <id>,0` (RT-Thread) and `+MIPSEND: <id>,<0 ok>,<free>`
//!   (OneOS) after the data; with `AT+GTSET="IPRFMT",2` incoming data is
//!   `+MIPRTCP: <id>,<len>,<raw bytes>\r\n` and `+MIPRUDP: <ip>,<port>,<id>,<len>,<raw>\r\n`;
//!   `+MIPSTAT: <id>,...` during an open is a failed connect, later a passive close.
//! - `iprfmt comments` (two public L610 projects): `IPRFMT` 0 is the default and prints each byte
//!   as two hex digits, 1 prints the bytes raw without a header, 2 raw with the header; the
//!   setting survives power loss.
//! - `g24 manual` (Motorola G24 AT Commands Reference Manual, the MIP* dialect the Fibocom
//!   modules inherited): the hex form `AT+MIPSEND=<id>,"<hex>"` answering
//!   `+MIPSEND: <id>,<status>,<free>` and `OK`, `AT+MIPPUSH=<id>` answering
//!   `+MIPPUSH: <id>,<status>` (2: nothing to send) and `OK`, `AT+MIPSEND?`, the failed open
//!   as `+MIPSTAT: <id>,1`, a send on a socket that is not open answered `ERROR`.
//! - `g610 engineer log`: a Fibocom engineer's transcript quoted in a public driver:
//!   `AT+MIPOPEN=1,,"<ip>",3000,0` `OK` `+MIPOPEN: 1,1`; `AT+MIPSEND=1,5` `>12345` `OK`
//!   `+MIPPUSH: 1,0...`; `AT+MIPCLOSE=1` `OK` `+MIPCLOSE: 1,0` (`1,1`: the peer did not answer).

use bytes::Bytes;

use crate::at::{Arg, Form};
use crate::dialect::params::{hex_upper, unhex};
use crate::dialect::{Out, Prompt};
use crate::modem::CellState;
use crate::net::{CloseReason, LinkId, NetEvent, NetEventKind, NetRequest, SockProto};

use super::mipcall::Call;
use super::ssl::Ssl;
use super::{num_in, set_args, CME_NOT_ALLOWED};

/// Socket ids 1..=6 (`tuya-l610`: `AT+MIPOPEN?` ids 1..6; OneOS: "L610 connect id is 1 to 6").
pub const SOCKETS: usize = 6;

/// The most one `AT+MIPSEND` takes, and the send buffer `+MIPSEND`'s `<free>` counts down from
/// (RT-Thread and OneOS cut every send to 2048 bytes; G24 manual: "Free size is calculated from
/// the 2048"). An inference: fixtures/DIVERGENCES.md L30.
pub const SEND_MAX: usize = 2048;

/// Link ids of the sockets, apart from the MQTT clients' (which count up from 1) and the HTTP
/// requests' (`net::HTTP_LINKS`, 1 << 40: the L610's HTTP events went to its sockets when both
/// were 1 << 40).
pub const LINK_BASE: LinkId = 1 << 36;

/// How long a `>` prompt waits for its next byte. The length form gives up with `ERROR` as the
/// MQTT prompts do; the open form (`AT+MIPSEND=<id>`) sends what came, as the G620 manual's
/// "after timeout the data will be push automatic" (12 s there; kept here for both).
pub const PROMPT_IDLE: std::time::Duration = std::time::Duration::from_secs(12);

/// `+MIPSTAT` causes (`kk l610 driver`: "0: ACK indication, 1: broken protocol stack,
/// 2: connection closed automatically").
const STAT_BROKEN: u8 = 1;
const STAT_CLOSED: u8 = 2;

/// `AT+GTSET="IPRFMT",<n>`: how received data is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// 0, the default: `+MIPRTCP: <id>,<len>,<hex>`.
    #[default]
    Hex,
    /// 1: the bytes alone.
    Raw,
    /// 2: `+MIPRTCP: <id>,<len>,<bytes>`.
    Framed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
    Tls,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// `OK` printed, the connect under way.
    Opening,
    Open,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Socket {
    link: LinkId,
    proto: Proto,
    state: State,
    /// Bytes `AT+MIPSEND=<id>,"<hex>"` put in the buffer, waiting for `AT+MIPPUSH`.
    buffered: Vec<u8>,
    /// Pushes whose `+MIPPUSH` waits for the network to take the bytes.
    pushes: u32,
}

/// What the bytes after `AT+MIPSEND`'s `>` are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSend {
    id: usize,
    link: LinkId,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mip {
    sockets: [Option<Socket>; SOCKETS],
    next_link: LinkId,
    format: Format,
    /// The names `AT+MIPDNS` resolved, by the address it gave each (see [`Mip::mipdns`]).
    dns: Vec<String>,
}

/// The addresses `AT+MIPDNS` answers with: 198.18.0.0/15 (RFC 2544, benchmarking), which no
/// real server has, so an `AT+MIPOPEN` to one is known to mean the name it stands for.
const DNS_BASE: u32 = u32::from_be_bytes([198, 18, 0, 1]);
/// At most this many names are remembered; the oldest goes first.
const DNS_MAX: usize = 1024;

/// A socket id parameter, 1..=6, as an index.
fn socket_of(arg: Option<&Arg>) -> Option<usize> {
    num_in(arg, 1..=SOCKETS as u32).map(|n| n as usize - 1)
}

impl Mip {
    fn open_ids(&self) -> Vec<usize> {
        (0..SOCKETS)
            .filter(|&i| {
                matches!(
                    self.sockets[i],
                    Some(Socket {
                        state: State::Open,
                        ..
                    })
                )
            })
            .collect()
    }

    fn by_link(&self, link: LinkId) -> Option<usize> {
        (0..SOCKETS).find(|&i| self.sockets[i].as_ref().is_some_and(|s| s.link == link))
    }

    /// Whether `link` is one of the socket links (the rest are MQTT's).
    pub fn owns(link: LinkId) -> bool {
        (LINK_BASE..crate::net::HTTP_LINKS).contains(&link)
    }

    /// `AT+MIPOPEN?` -> `+MIPOPEN: <free id>[,<free id>...]`, `+MIPOPEN: 0` when none is free
    /// (`tuya-l610` reads the free ids from it, RT-Thread opens on the first). `AT+MIPOPEN=?`
    /// -> the ranges (an inference: L31).
    ///
    /// `AT+MIPOPEN=<id>,[<local port>],"<host>",<port>,<protocol>` (protocol 0 TCP, 1 UDP,
    /// 2 TLS over TCP with the `AT+GTSSL*` settings) -> `OK`, then `+MIPOPEN: <id>,1` once
    /// connected, or `+MIPSTAT: <id>,1` when the connect or the handshake fails (`tuya-l610`,
    /// RT-Thread, OneOS, `g610 engineer log`; `g24 manual` for the failure). Without the data
    /// call, on a socket in use or with a bad parameter: `ERROR` (`+CME ERROR: 3` under
    /// `AT+CMEE=1|2` for the first two).
    pub fn mipopen(
        &mut self,
        cell: &CellState,
        call_up: bool,
        ssl: &mut Ssl,
        form: &Form,
        out: &mut Out,
    ) {
        match form {
            Form::Read => return self.free_ids(out),
            Form::Test => {
                out.line(format!(
                    "+MIPOPEN: (1-{SOCKETS}),(0-65535),\"host\",(1-65535),(0-2)"
                ));
                return out.ok();
            }
            Form::Exec => return out.error(),
            Form::Set(_) => {}
        }
        let Some(args) = set_args(form) else {
            return out.error();
        };
        let [id, local, host, port, proto] = args.as_slice() else {
            return out.error();
        };
        let local_ok = local.is_empty() || num_in(Some(local), 0..=65535).is_some();
        let (Some(id), Some(port), Some(proto), true) = (
            socket_of(Some(id)),
            num_in(Some(port), 1..=65535),
            num_in(Some(proto), 0..=2),
            local_ok,
        ) else {
            return out.error();
        };
        let host = host.text();
        if host.is_empty() || host.len() > 255 {
            return out.error();
        }
        let host = self.host_for(host);
        if !call_up || self.sockets[id].is_some() {
            tracing::info!(socket = id + 1, call = call_up, "MIPOPEN refused");
            return out.line(cell.cme(CME_NOT_ALLOWED));
        }
        let proto = match proto {
            0 => Proto::Tcp,
            1 => Proto::Udp,
            _ => Proto::Tls,
        };
        out.ok();
        self.connect(id, proto, host, port as u16, ssl, out)
    }

    /// `AT+MIPOPEN?`'s answer: the free socket ids, `0` when none is free.
    fn free_ids(&self, out: &mut Out) {
        let free: Vec<usize> = (0..SOCKETS)
            .filter(|&i| self.sockets[i].is_none())
            .collect();
        id_list("+MIPOPEN", &free, out)
    }

    /// `AT+MIPOPEN=`'s connect, after its `OK`: the TLS settings (a setting that cannot work
    /// is `+MIPSTAT: <id>,1` at once), then the link.
    fn connect(
        &mut self,
        id: usize,
        proto: Proto,
        host: String,
        port: u16,
        ssl: &mut Ssl,
        out: &mut Out,
    ) {
        let link = || format!("socket {}", id + 1);
        let tls = match (proto == Proto::Tls).then(|| ssl.open_options(&link(), &host)) {
            Some(None) => return out.line(format!("+MIPSTAT: {},{STAT_BROKEN}", id + 1)),
            tls => tls.flatten(),
        };
        self.next_link += 1;
        let link = LINK_BASE + self.next_link;
        self.sockets[id] = Some(Socket {
            link,
            proto,
            state: State::Opening,
            buffered: Vec::new(),
            pushes: 0,
        });
        out.net(NetRequest::SockOpen {
            link,
            proto: if proto == Proto::Udp {
                SockProto::Udp
            } else {
                SockProto::Tcp
            },
            host,
            port,
            tls,
        });
    }

    /// `AT+MIPSEND=<id>,<len>` (1..=2048) -> `>`; exactly `<len>` bytes follow, any values, and
    /// go out at once: `+MIPSEND: <id>,0,<free>` and `OK`, then `+MIPPUSH: <id>,0` when the
    /// network has taken them (`tuya-l610`, OneOS, RT-Thread, `g610 engineer log`; the order
    /// is an inference: L30). No byte for [`PROMPT_IDLE`]: nothing is sent, `ERROR`.
    ///
    /// `AT+MIPSEND=<id>` -> `>`; the bytes up to Ctrl-Z (or a pause of [`PROMPT_IDLE`]) go out
    /// the same way; ESC sends nothing (G620 manual's open form; an inference: L30).
    ///
    /// `AT+MIPSEND=<id>,"<hex>"` -> the bytes wait in the buffer: `+MIPSEND: <id>,0,<free>`,
    /// `OK`; `AT+MIPPUSH=<id>` sends them (`g24 manual`).
    ///
    /// `AT+MIPSEND?` -> `+MIPSEND: <id>,<free>` per open socket, `+MIPSEND: 0` with none
    /// (`g24 manual`; a public L610 driver waits for `+MIPSEND: 0` before its first open).
    ///
    /// On a socket that is not open (never opened, closed, or closed by the peer): `ERROR`, or
    /// `+CME ERROR: 3` under `AT+CMEE=1|2` (`g24 manual`: "Socket 4 was not opened ... ERROR").
    pub fn mipsend(&mut self, cell: &CellState, form: &Form, out: &mut Out) -> Option<PendingSend> {
        match form {
            Form::Read => {
                let open = self.open_ids();
                if open.is_empty() {
                    out.line("+MIPSEND: 0");
                }
                for i in open {
                    let free = SEND_MAX - self.sockets[i].as_ref().map_or(0, |s| s.buffered.len());
                    out.line(format!("+MIPSEND: {},{free}", i + 1));
                }
                out.ok();
                return None;
            }
            Form::Set(_) => {}
            _ => {
                out.error();
                return None;
            }
        }
        let args = set_args(form);
        let (id, data) = match args.as_deref() {
            Some([id]) => (socket_of(Some(id)), None),
            Some([id, data]) => (socket_of(Some(id)), Some(data)),
            _ => None.unzip(),
        };
        let Some(id) = id else {
            out.error();
            return None;
        };
        let Some(sock) = self.sockets[id].as_mut().filter(|s| s.state == State::Open) else {
            tracing::info!(socket = id + 1, "MIPSEND on a socket that is not open");
            out.line(cell.cme(CME_NOT_ALLOWED));
            return None;
        };
        let link = sock.link;
        match data {
            None => {
                out.raw(b"\r\n>");
                out.prompt(Prompt::UntilCtrlZ(SEND_MAX), PROMPT_IDLE);
                Some(PendingSend { id, link })
            }
            Some(a)
                if !a.quoted && !a.bytes.is_empty() && a.bytes.iter().all(u8::is_ascii_digit) =>
            {
                match a.number().filter(|n| (1..=SEND_MAX as u32).contains(n)) {
                    Some(len) => {
                        out.raw(b"\r\n>");
                        out.prompt(Prompt::Exact(len as usize), PROMPT_IDLE);
                        Some(PendingSend { id, link })
                    }
                    None => {
                        out.error();
                        None
                    }
                }
            }
            Some(a) => {
                match unhex(&a.bytes)
                    .filter(|b| !b.is_empty() && sock.buffered.len() + b.len() <= SEND_MAX)
                {
                    Some(bytes) => {
                        sock.buffered.extend(bytes);
                        let free = SEND_MAX - sock.buffered.len();
                        out.line(format!("+MIPSEND: {},0,{free}", id + 1));
                        out.ok();
                    }
                    None => out.error(),
                }
                None
            }
        }
    }

    /// The bytes after `AT+MIPSEND`'s prompt: sent as one write (one datagram on UDP).
    pub fn send_data(&mut self, p: PendingSend, data: Vec<u8>, out: &mut Out) {
        let Some(sock) = self.sockets[p.id]
            .as_mut()
            .filter(|s| s.link == p.link && s.state == State::Open)
        else {
            // The socket went while the host was typing: nothing can be sent.
            tracing::info!(
                socket = p.id + 1,
                bytes = data.len(),
                "socket closed under the prompt: data dropped"
            );
            return out.error();
        };
        let free = SEND_MAX.saturating_sub(sock.buffered.len() + data.len());
        out.line(format!("+MIPSEND: {},0,{free}", p.id + 1));
        out.ok();
        sock.pushes += 1;
        out.net(NetRequest::SockSend {
            link: p.link,
            data: Bytes::from(data),
        });
    }

    /// `AT+MIPPUSH=<id>` -> `+MIPPUSH: <id>,0` and `OK` when it sends what the hex form
    /// buffered, `+MIPPUSH: <id>,2` and `OK` when there is nothing (`g24 manual`). On a socket
    /// that is not open: as `AT+MIPSEND`.
    pub fn mippush(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        let args = set_args(form);
        let Some(id) = (match args.as_deref() {
            Some([id]) => socket_of(Some(id)),
            _ => None,
        }) else {
            return out.error();
        };
        let Some(sock) = self.sockets[id].as_mut().filter(|s| s.state == State::Open) else {
            return out.line(cell.cme(CME_NOT_ALLOWED));
        };
        if sock.buffered.is_empty() {
            out.line(format!("+MIPPUSH: {},2", id + 1));
            return out.ok();
        }
        let data = std::mem::take(&mut sock.buffered);
        out.line(format!("+MIPPUSH: {},0", id + 1));
        out.ok();
        out.net(NetRequest::SockSend {
            link: sock.link,
            data: Bytes::from(data),
        });
    }

    /// `AT+MIPCLOSE=<id>[,<mode>]` -> `OK`, then `+MIPCLOSE: <id>,0` (`g610 engineer log`; a
    /// public L610 tutorial waits for `+MIPCLOSE: 1,0`); a socket still opening is given up the
    /// same way. On a socket not in use: as `AT+MIPSEND`.
    ///
    /// `AT+MIPCLOSE?` -> `+MIPCLOSE: <id>[,<id>...]` for the open sockets, `+MIPCLOSE: 0` with
    /// none (`tuya-l610` reads the open ids from it).
    pub fn mipclose(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        match form {
            Form::Read => return id_list("+MIPCLOSE", &self.open_ids(), out),
            Form::Test => {
                out.line(format!("+MIPCLOSE: (1-{SOCKETS}),(0-2)"));
                return out.ok();
            }
            Form::Exec => return out.error(),
            Form::Set(_) => {}
        }
        let args = set_args(form);
        let id = match args.as_deref() {
            Some([id]) => socket_of(Some(id)),
            Some([id, mode]) if num_in(Some(mode), 0..=2).is_some() => socket_of(Some(id)),
            _ => None,
        };
        let Some(id) = id else {
            return out.error();
        };
        let Some(sock) = self.sockets[id].take() else {
            return out.line(cell.cme(CME_NOT_ALLOWED));
        };
        out.ok();
        out.net(NetRequest::Close { link: sock.link });
        out.line(format!("+MIPCLOSE: {},0", id + 1));
    }

    /// `AT+MIPDNS="<name>"[,<type>]` -> `+MIPDNS: "<name>",<address>` and `OK` (OneOS and
    /// RT-Thread send `AT+MIPDNS="<name>",2` and read the address after the comma before their
    /// `OK`; a public L610 driver's comment prints `+MIPDNS: "yj03.yunjiwulian.com",
    /// 120.78.176.175`). The module's network would ask a DNS server; ours answers with an
    /// address of 198.18.0.0/15 that stands for the name, and `AT+MIPOPEN` to that address
    /// opens the name, so `--resolve` and the default routes see the name the host meant (an
    /// inference: L34). An address is answered with itself. Without the data call: `ERROR`.
    pub fn mipdns(&mut self, cell: &CellState, call: &Call, form: &Form, out: &mut Out) {
        let args = set_args(form);
        let name = match args.as_deref() {
            Some([n]) => n,
            Some([n, t]) if num_in(Some(t), 0..=2).is_some() => n,
            _ => return out.error(),
        };
        let name = name.text();
        if name.is_empty() || name.len() > 255 {
            return out.error();
        }
        if !call.is_up() {
            return out.line(cell.cme(CME_NOT_ALLOWED));
        }
        let addr = if name.parse::<std::net::Ipv4Addr>().is_ok() {
            name.clone()
        } else {
            let i = match self.dns.iter().position(|n| *n == name) {
                Some(i) => i,
                None => {
                    if self.dns.len() == DNS_MAX {
                        self.dns.remove(0);
                    }
                    self.dns.push(name.clone());
                    self.dns.len() - 1
                }
            };
            std::net::Ipv4Addr::from(DNS_BASE + i as u32).to_string()
        };
        out.line(format!("+MIPDNS: \"{name}\",{addr}"));
        out.ok();
    }

    /// The name an address from `AT+MIPDNS` stands for, or the host as given.
    fn host_for(&self, host: String) -> String {
        host.parse::<std::net::Ipv4Addr>()
            .ok()
            .and_then(|a| u32::from(a).checked_sub(DNS_BASE))
            .and_then(|i| self.dns.get(i as usize))
            .cloned()
            .unwrap_or(host)
    }

    /// `AT+GTSET="IPRFMT",<0|1|2>` -> `OK` (`iprfmt comments`, OneOS, TencentOS). Other
    /// settings of `AT+GTSET` are not known: `ERROR`. `AT+GTSET?` -> `+GTSET: "IPRFMT",<n>`
    /// (an inference: L31).
    pub fn gtset(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Read => {
                out.line(format!("+GTSET: \"IPRFMT\",{}", self.format as u8));
                out.ok()
            }
            Form::Set(_) => match set_args(form).as_deref() {
                Some([key, n]) if key.bytes.eq_ignore_ascii_case(b"IPRFMT") => {
                    match num_in(Some(n), 0..=2) {
                        Some(0) => self.format = Format::Hex,
                        Some(1) => self.format = Format::Raw,
                        Some(_) => self.format = Format::Framed,
                        None => return out.error(),
                    }
                    out.ok()
                }
                _ => out.error(),
            },
            _ => out.error(),
        }
    }

    /// The data call ended (`AT+MIPCALL=0`, `pdn-deact`, detach): every socket breaks with
    /// `+MIPSTAT: <id>,1` ("broken protocol stack"; an inference: L32).
    pub fn network_lost(&mut self, out: &mut Out) {
        for i in 0..SOCKETS {
            if let Some(s) = self.sockets[i].take() {
                out.net(NetRequest::Close { link: s.link });
                out.line(format!("+MIPSTAT: {},{STAT_BROKEN}", i + 1));
            }
        }
    }

    /// Power is gone: the sockets end without a word; `IPRFMT` is kept ("掉电保存":
    /// `iprfmt comments`).
    pub fn power_off(&mut self, out: &mut Out) {
        for s in self.sockets.iter_mut().filter_map(Option::take) {
            out.net(NetRequest::Close { link: s.link });
        }
    }

    /// What the module prints when the network answers.
    pub fn on_net(&mut self, ssl: &mut Ssl, ev: NetEvent, out: &mut Out) {
        let Some(i) = self.by_link(ev.link) else {
            tracing::debug!(link = ev.link, ?ev.kind, "event from a socket the module already left");
            return;
        };
        let id = i + 1;
        let Some(sock) = self.sockets[i].as_mut() else {
            return;
        };
        match ev.kind {
            NetEventKind::Connected => {
                if sock.proto == Proto::Tls {
                    ssl.set_error(super::ssl::err::NONE);
                }
                if sock.state == State::Opening {
                    sock.state = State::Open;
                    out.line(format!("+MIPOPEN: {id},1"));
                }
            }
            NetEventKind::ConnectFailed(reason) => {
                tracing::info!(%reason, socket = id, "socket connect failed");
                if sock.proto == Proto::Tls {
                    ssl.set_error(Ssl::error_for(&reason));
                }
                self.sockets[i] = None;
                out.line(format!("+MIPSTAT: {id},{STAT_BROKEN}"));
            }
            NetEventKind::SockData { data, from } => {
                let udp = sock.proto == Proto::Udp;
                self.print_data(id, udp, from, &data, out);
            }
            NetEventKind::SockSent(_) => {
                if sock.pushes > 0 {
                    sock.pushes -= 1;
                    out.line(format!("+MIPPUSH: {id},0"));
                }
            }
            NetEventKind::Closed(reason) => {
                tracing::info!(?reason, socket = id, "socket closed under the module");
                self.sockets[i] = None;
                let stat = match reason {
                    CloseReason::PeerClosed => STAT_CLOSED,
                    _ => STAT_BROKEN,
                };
                out.line(format!("+MIPSTAT: {id},{stat}"));
            }
            other => tracing::debug!(?other, socket = id, "not a socket event"),
        }
    }

    /// `+MIPRTCP: <id>,<len>,<data>` / `+MIPRUDP: <ip>,<port>,<id>,<len>,<data>` as `IPRFMT`
    /// says (`iprfmt comments`, OneOS, `tuya-l610`; hex digits upper case: an inference, L31).
    fn print_data(
        &self,
        id: usize,
        udp: bool,
        from: std::net::SocketAddr,
        data: &[u8],
        out: &mut Out,
    ) {
        let head = if udp {
            format!(
                "+MIPRUDP: {},{},{id},{}",
                from.ip(),
                from.port(),
                data.len()
            )
        } else {
            format!("+MIPRTCP: {id},{}", data.len())
        };
        match self.format {
            Format::Hex => out.line(format!("{head},{}", hex_upper(data))),
            Format::Raw => out.raw(data),
            Format::Framed => {
                out.raw(format!("\r\n{head},").as_bytes());
                out.raw(data);
                out.raw(b"\r\n");
            }
        }
    }
}

/// `<prefix>: <id>[,<id>...]` for the sockets `slots` (ids count from 1), `<prefix>: 0` for
/// none, then `OK`: the read forms of `AT+MIPOPEN` and `AT+MIPCLOSE`.
fn id_list(prefix: &str, slots: &[usize], out: &mut Out) {
    let ids: Vec<String> = slots.iter().map(|i| (i + 1).to_string()).collect();
    let list = if ids.is_empty() {
        "0".into()
    } else {
        ids.join(",")
    };
    out.line(format!("{prefix}: {list}"));
    out.ok()
}
