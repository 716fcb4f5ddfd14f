//! The Air780E's MQTT commands (`AT+M*`, `AT+MQTT*`) and what the module prints when the
//! network answers.
//!
//! The module has one MQTT connection (seed 000 FAQ 10, seed 001 FAQ 1). It is two layers, as
//! on the module: `AT+MIPSTART` opens TCP (`CONNECT OK`), `AT+MCONNECT` opens the MQTT session
//! on it (`CONNACK OK`).

use bytes::Bytes;

use crate::at::{escape, Arg, Form};
use crate::dialect::{Out, Prompt};
use crate::modem::CellState;
use crate::net::{
    CloseReason, ConnectParams, ConnectReturnCode, LinkId, MqttOp, NetEvent, NetEventKind,
    NetRequest, QoS, TlsOptions, Will,
};

use super::{num_in, number_setting, set_args};
use crate::dialect::params::{args_or_syntax, fixed_args, flag, mqtt_op};
use crate::dialect::params::{hex_upper, qos_of, topic_filter, topic_name, unhex};

/// `AT+MPUB` payload limit. Seed 000 FAQ 15 (the Air780E guide) says 2384 bytes, seed 001
/// FAQ 8 says 4100; we keep the Air780E guide's, the stricter (fixtures/DIVERGENCES.md).
pub const MPUB_MAX: usize = 2384;
/// `AT+MPUBEX` length range 1..=4100 (seed 000 FAQ 15, seed 001 FAQ 8).
pub const MPUBEX_MAX: usize = 4100;
/// Largest payload printed in one `+MSUB` (seed 001 FAQ 7; seed 000 FAQ 14 says 1360 for the
/// direct mode, see fixtures/DIVERGENCES.md).
pub const MSUB_MAX: usize = 4100;
/// Topic limit, 256 bytes (notes sections 4 and 6).
pub const TOPIC_MAX: usize = 256;
/// The receive cache holds 4 messages (seed 000 FAQ 14, seed 001 FAQ 7).
pub const CACHE_SLOTS: usize = 4;
/// `+CME ERROR: 767`: the family's "operation failed", given for MQTT commands in the wrong
/// state (seed 001 passive close, seed 003 `MCONNECT` after the server kicked the link).
pub(super) const CME_MQTT: u16 = 767;
/// How long an `AT+MPUBEX` prompt waits for the next byte. The MPUBEX page gives 5 s for the
/// form without `<len>` ("5s超时（两次数据间隔超过5s）发送数据返回OK"); the length form gets
/// the same figure (no source gives one: fixtures/DIVERGENCES.md A24).
pub const PROMPT_IDLE: std::time::Duration = std::time::Duration::from_secs(5);

/// `AT+MCONFIG` settings.
#[derive(Debug, Clone, Default, PartialEq)]
struct MConfig {
    client_id: String,
    user: Option<String>,
    password: Option<String>,
    will: Option<Will>,
}

/// The TCP layer as the module sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Tcp {
    /// Never opened, or closed by the module itself (`MIPCLOSE`, `MDISCONNECT`).
    #[default]
    Idle,
    /// The peer or the network ended it; the module printed `CLOSED`. `MIPCLOSE` now answers
    /// 767 (seed 001 passive-close flow).
    PeerClosed,
    Connecting(LinkId),
    Up(LinkId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Session {
    #[default]
    Down,
    Connecting,
    Up,
}

#[derive(Debug, Clone)]
struct Cached {
    seq: u64,
    topic: String,
    payload: Bytes,
}

#[derive(Debug, Default)]
pub struct Mqtt {
    config: Option<MConfig>,
    next_link: LinkId,
    tcp: Tcp,
    session: Session,
    /// The QoS 1/2 publish waiting for PUBACK/PUBCOMP. The module takes one at a time; a
    /// second answers 767 (observed on hardware by a third-party driver's test log).
    inflight: bool,
    /// `AT+MQTTMSGSET=1`.
    cache_mode: bool,
    cache: [Option<Cached>; CACHE_SLOTS],
    seq: u64,
    /// `AT+MQTTMODE=1`: payloads are written and printed as hex.
    hex_mode: bool,
    /// The bearer state a failing connect prints before `CONNECT FAIL` (MIPSTART.md:
    /// `STATE:<state>`), taken when `AT+MIPSTART` was sent.
    fail_state: &'static str,
}

/// An `AT+MPUBEX` waiting for its payload (the dialect's
/// [`Pending`](crate::dialect::pending::Pending)).
#[derive(Debug)]
pub struct PendingPubex {
    topic: String,
    qos: QoS,
    retain: bool,
}

impl Mqtt {
    fn link(&self) -> Option<LinkId> {
        match self.tcp {
            Tcp::Up(l) | Tcp::Connecting(l) => Some(l),
            _ => None,
        }
    }

    /// `OK` and `op` on the session, or `+CME ERROR: 767` without one.
    fn session_op(&self, cell: &CellState, op: MqttOp, out: &mut Out) {
        mqtt_op(out, self.session_up(), || cell.cme(CME_MQTT), op)
    }

    fn session_up(&self) -> Option<LinkId> {
        match (self.tcp, self.session) {
            (Tcp::Up(l), Session::Up) => Some(l),
            _ => None,
        }
    }

    /// Both layers gone, as after `CLOSED`.
    fn drop_link(&mut self, tcp: Tcp) {
        self.tcp = tcp;
        self.session = Session::Down;
        self.inflight = false;
    }

    /// `AT+MCONFIG=<clientid>[,<user>,<pwd>[,<will qos>,<will retain>,"<will topic>","<will msg>"]]`
    /// -> `OK`. Seed 000 section 6.2 (quotes optional on the first three), notes section 1 for
    /// the will fields and the test form.
    pub fn mconfig(&mut self, _cell: &CellState, form: &Form, out: &mut Out) {
        let Some(args) = args_or_syntax(form, out, &["+MCONFIG:<clientid>[,<username>,<password>[,(0-2),(0,1),<will_topic>,<will_message>]]"]) else {
            return;
        };
        let limit = |a: &Arg| a.bytes.len() <= 256;
        let config = match args.as_slice() {
            [id] | [id, _, _] | [id, _, _, _, _, _, _]
                if !id.is_empty() && args.iter().take(3).all(limit) =>
            {
                let mut c = MConfig {
                    client_id: id.text(),
                    ..MConfig::default()
                };
                if args.len() >= 3 {
                    c.user = Some(args[1].text());
                    c.password = Some(args[2].text());
                }
                if args.len() == 7 {
                    let (Some(qos), Some(retain), Some(topic)) = (
                        qos_of(args.get(3)),
                        flag(args.get(4)),
                        topic_name(&args[5], TOPIC_MAX),
                    ) else {
                        return out.error();
                    };
                    let payload = escape::decode(&args[6].bytes);
                    if payload.len() > 1360 {
                        return out.error();
                    }
                    c.will = Some(Will {
                        topic,
                        payload: payload.into(),
                        qos,
                        retain,
                    });
                }
                c
            }
            _ => return out.error(),
        };
        self.config = Some(config);
        out.ok()
    }

    /// `AT+MIPSTART=<host>,<port>` -> `OK`, then `CONNECT OK` | `CONNECT FAIL` |
    /// `ALREADY CONNECT`. Seed 000 section 6.2 and 8.1 note 1; notes section 2 for
    /// `ALREADY CONNECT` after `OK` and the test form.
    /// `state` is the bearer's, printed before a `CONNECT FAIL`.
    pub fn mipstart(&mut self, cell: &CellState, state: &'static str, form: &Form, out: &mut Out) {
        self.start(
            cell,
            state,
            form,
            out,
            "+MIPSTART",
            None::<fn(&str) -> TlsOptions>,
        )
    }

    /// `AT+SSLMIPSTART=<host>,<port>`: as `AT+MIPSTART`, with a TLS handshake after the TCP
    /// connect, configured by `AT+SSLCFG` context 88 (seed 000 sections 6.2, 6.3 and 6.4; notes
    /// section 2). A handshake that fails, for any reason, is `CONNECT FAIL`, the module's one
    /// failure answer to `MIPSTART` (notes section 2, V167-TAB). `tls` gives the link's TLS
    /// options for the host named in the command.
    pub fn sslmipstart(
        &mut self,
        cell: &CellState,
        state: &'static str,
        form: &Form,
        out: &mut Out,
        tls: impl FnOnce(&str) -> TlsOptions,
    ) {
        self.start(cell, state, form, out, "+SSLMIPSTART", Some(tls))
    }

    fn start(
        &mut self,
        cell: &CellState,
        state: &'static str,
        form: &Form,
        out: &mut Out,
        name: &str,
        tls: Option<impl FnOnce(&str) -> TlsOptions>,
    ) {
        let Some(args) = args_or_syntax(
            form,
            out,
            &[
                &format!("{name}:\"(0,255).(0,255).(0,255).(0,255)\",(1-65535)"),
                &format!("{name}:\"DOMAIN NAME\",(1-65535)"),
            ],
        ) else {
            return;
        };
        let [host, port] = args.as_slice() else {
            return out.error();
        };
        let (host, Some(port)) = (host.text(), num_in(Some(port), 1..=65535)) else {
            return out.error();
        };
        if host.is_empty() || host.len() > 255 {
            return out.error();
        }
        out.ok();
        if matches!(self.tcp, Tcp::Up(_) | Tcp::Connecting(_)) {
            return out.line("ALREADY CONNECT");
        }
        self.fail_state = state;
        if !cell.data_ready() {
            self.tcp = Tcp::Idle;
            return self.connect_fail(out);
        }
        self.next_link += 1;
        let link = self.next_link;
        self.drop_link(Tcp::Connecting(link));
        let tls = tls.map(|f| f(&host));
        out.net(NetRequest::Open {
            link,
            host,
            port: port as u16,
            tls,
        });
    }

    /// `AT+MCONNECT=<clean>,<keepalive>[,<mode>]` -> `OK`, then `CONNACK OK`. `+CME ERROR: 767`
    /// without `OK` when there is no TCP link (seed 003 "完成 MQTT 身份验证") or the session
    /// is already up (notes section 3). Without `AT+MCONFIG`: the default configuration
    /// (client id = IMEI, anonymous), as a driver verified on a real module relies on
    /// (issue 10; fixtures/DIVERGENCES.md A25).
    pub fn mconnect(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        let Some(args) = args_or_syntax(form, out, &["+MCONNECT:(0-1),(1-65535)"]) else {
            return;
        };
        let (clean, keepalive) = match args.as_slice() {
            [c, k] | [c, k, _] => match (flag(Some(c)), num_in(Some(k), 1..=65535)) {
                (Some(c), Some(k)) => (c, k as u16),
                _ => return out.error(),
            },
            _ => return out.error(),
        };
        if let Some(mode) = args.get(2) {
            if num_in(Some(mode), 0..=1).is_none() {
                return out.error();
            }
        }
        let (Tcp::Up(link), Session::Down) = (self.tcp, self.session) else {
            return out.line(cell.cme(CME_MQTT));
        };
        // Without `AT+MCONFIG` the module connects with its default configuration: the IMEI
        // as client id, no user name, no password, no will (fixtures/DIVERGENCES.md A25).
        let default;
        let config = match &self.config {
            Some(c) => c,
            None => {
                default = MConfig {
                    client_id: cell.identity.imei.clone(),
                    user: None,
                    password: None,
                    will: None,
                };
                &default
            }
        };
        let params = ConnectParams {
            client_id: config.client_id.clone(),
            username: config.user.clone().filter(|u| !u.is_empty()),
            password: config
                .password
                .clone()
                .filter(|_| config.user.as_deref().is_some_and(|u| !u.is_empty())),
            clean_session: clean,
            keepalive,
            will: config.will.clone(),
        };
        self.session = Session::Connecting;
        out.ok();
        out.net(NetRequest::Mqtt {
            link,
            op: MqttOp::Connect(params),
        });
    }

    /// `AT+MSUB=<topic>,<qos>` -> `OK`, then `SUBACK` (seed 000 section 6.2; one topic per
    /// command, notes section 4).
    pub fn msub(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        // luatos-doc-pool Command_List/MQTT/MSUB.md.
        let Some([topic, qos]) = fixed_args(form, out, &["+MSUB:<topic>,(0-2)"]) else {
            return;
        };
        let (Some(topic), Some(qos)) = (topic_filter(&topic, TOPIC_MAX), qos_of(Some(&qos))) else {
            return out.error();
        };
        self.session_op(cell, MqttOp::Subscribe(vec![(topic, qos)]), out)
    }

    /// `AT+MUNSUB=<topic>` -> `OK`, then `UNSUBACK` (notes section 4).
    pub fn munsub(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        // luatos-doc-pool Command_List/MQTT/MUNSUB.md.
        let Some([topic]) = fixed_args(form, out, &["+MUNSUB:<topic>"]) else {
            return;
        };
        let Some(topic) = topic_filter(&topic, TOPIC_MAX) else {
            return out.error();
        };
        self.session_op(cell, MqttOp::Unsubscribe(vec![topic]), out)
    }

    /// `AT+MPUB=<topic>,<qos>,<retain>,<message>` -> `OK`; QoS 1 then `PUBACK`; QoS 2 then
    /// `PUBREC`, `PUBCOMP` (seed 001 first flow; seed 000 section 8.1 note 4). The message may
    /// be quoted or bare (seed 003 publishes bare JSON) and carries `\XX` escapes (seed 000
    /// FAQ 12); with `AT+MQTTMODE=1` it is hex (notes section 9).
    pub fn mpub(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        let Some(args) = args_or_syntax(form, out, &["+MPUB:<topic>,(0-2),(0-1),<message>"]) else {
            return;
        };
        let [topic, qos, retain, msg] = args.as_slice() else {
            return out.error();
        };
        let (Some(topic), Some(qos), Some(retain)) = (
            topic_name(topic, TOPIC_MAX),
            qos_of(Some(qos)),
            flag(Some(retain)),
        ) else {
            return out.error();
        };
        let payload = if self.hex_mode {
            match unhex(&msg.bytes) {
                Some(p) => p,
                None => return out.error(),
            }
        } else {
            escape::decode(&msg.bytes)
        };
        if payload.len() > MPUB_MAX {
            return out.error();
        }
        self.publish(cell, topic, qos, retain, payload.into(), out);
    }

    /// `AT+MPUBEX=<topic>,<qos>,<retain>,<len>` -> `>`, then exactly `<len>` raw bytes, then
    /// `OK` and the QoS acks (notes section 6, from the family's MPUBEX page). The prompt is
    /// `\r\n>` with nothing after it. Without `<len>` the data ends at Ctrl-Z (0x1A), or
    /// when no byte has come for 5 s, and is sent (the MPUBEX page); ESC (0x1B) abandons it
    /// (the CIPSEND page's rule for its variable-length form, luatos-doc-pool
    /// `Command_List/TCPIP/CIPSEND.md`). A length-form prompt is binary-safe (ESC and Ctrl-Z
    /// are payload) and is abandoned after 5 s without a byte (fixtures/DIVERGENCES.md A24).
    /// An abandoned prompt publishes nothing and answers `ERROR`.
    pub fn mpubex(&mut self, cell: &CellState, form: &Form, out: &mut Out) -> Option<PendingPubex> {
        if *form == Form::Test {
            out.line("+MPUBEX:<topic>,(0-2),(0-1),<len>");
            out.ok();
            return None;
        }
        let args = set_args(form).unwrap_or_default();
        let (topic, qos, retain, len) = match args.as_slice() {
            [t, q, r] => (t, q, r, None),
            [t, q, r, l] => (t, q, r, Some(l)),
            _ => {
                out.error();
                return None;
            }
        };
        let (Some(topic), Some(qos), Some(retain)) = (
            topic_name(topic, TOPIC_MAX),
            qos_of(Some(qos)),
            flag(Some(retain)),
        ) else {
            out.error();
            return None;
        };
        let prompt = match len.map(|l| num_in(Some(l), 1..=MPUBEX_MAX as u32)) {
            None => Prompt::UntilCtrlZ(MPUBEX_MAX),
            Some(Some(len)) => Prompt::Exact(len as usize),
            Some(None) => {
                out.error();
                return None;
            }
        };
        if self.session_up().is_none() || (qos != QoS::AtMostOnce && self.inflight) {
            out.line(cell.cme(CME_MQTT));
            return None;
        }
        out.raw(b"\r\n>");
        out.prompt(prompt, PROMPT_IDLE);
        Some(PendingPubex { topic, qos, retain })
    }

    /// The payload of an `AT+MPUBEX`; `+CME ERROR: 767` when the session dropped while it was
    /// on its way.
    pub fn pubex_data(&mut self, cell: &CellState, p: PendingPubex, data: Vec<u8>, out: &mut Out) {
        self.publish(cell, p.topic, p.qos, p.retain, data.into(), out)
    }

    fn publish(
        &mut self,
        cell: &CellState,
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Bytes,
        out: &mut Out,
    ) {
        let Some(link) = self.session_up() else {
            return out.line(cell.cme(CME_MQTT));
        };
        if qos != QoS::AtMostOnce {
            if self.inflight {
                return out.line(cell.cme(CME_MQTT));
            }
            self.inflight = true;
        }
        out.ok();
        out.net(NetRequest::Mqtt {
            link,
            op: MqttOp::Publish {
                topic,
                qos,
                retain,
                payload,
            },
        });
    }

    /// `AT+MQTTMSGSET=<0|1>`: 0 prints each message at once, 1 caches it and prints its slot
    /// (seed 001 receive flow, seed 000 FAQ 14). Read form with a space (notes section 7).
    pub fn mqttmsgset(&mut self, form: &Form, out: &mut Out) {
        // The test form has no space (luatos-doc-pool Command_List/MQTT/MQTTMSGSET.md).
        if *form == Form::Test {
            out.line("+MQTTMSGSET:(0,1)");
            return out.ok();
        }
        if let Some(n) = number_setting(form, out, "+MQTTMSGSET", 0..=1, self.cache_mode.into()) {
            self.cache_mode = n == 1;
        }
    }

    /// `AT+MQTTMSGGET` prints every cached message, oldest first, then `OK`, and empties the
    /// cache (seed 001 receive flow: the next message goes to slot 0 again). The line format
    /// is the live `+MSUB` one; seed 001 prints it without space and quotes, which the
    /// family's newer logs contradict (fixtures/DIVERGENCES.md). `AT+MQTTMSGGET?` lists the
    /// slots (notes section 7).
    pub fn mqttmsgget(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Exec => {
                let mut cached: Vec<Cached> =
                    self.cache.iter_mut().filter_map(Option::take).collect();
                cached.sort_by_key(|c| c.seq);
                for c in cached {
                    self.print_msub(&c.topic, &c.payload, out);
                }
                out.ok()
            }
            Form::Read => {
                out.raw(b"\r\n");
                for (i, slot) in self.cache.iter().enumerate() {
                    let state = if slot.is_some() { "VALID" } else { "INVALID" };
                    out.raw(format!("+MQTTMSGGET: {i},{state}\r\n").as_bytes());
                }
                out.ok()
            }
            // luatos-doc-pool Command_List/MQTT/MQTTMSGGET.md.
            Form::Test => out.ok(),
            _ => out.error(),
        }
    }

    /// `AT+MQTTSTATU` -> `+MQTTSTATU :<n>` with the space before the colon (seed 003
    /// "查询 MQTT 连接状态"). 0: offline, 1: MQTT up, 2: TCP up, waiting for `MCONNECT` (notes
    /// section 8).
    pub fn mqttstatu(&mut self, form: &Form, out: &mut Out) {
        match form {
            Form::Exec => {
                let n = match (self.tcp, self.session) {
                    (Tcp::Up(_), Session::Up) => 1,
                    (Tcp::Up(_), _) => 2,
                    _ => 0,
                };
                out.line(format!("+MQTTSTATU :{n}"));
                out.ok()
            }
            Form::Test => out.ok(),
            _ => out.error(),
        }
    }

    /// `AT+MQTTMODE=<0|1>`: 0 text payloads (default), 1 hex (notes section 9).
    pub fn mqttmode(&mut self, form: &Form, out: &mut Out) {
        if let Some(n) = number_setting(form, out, "+MQTTMODE", 0..=1, self.hex_mode.into()) {
            self.hex_mode = n == 1;
        }
    }

    /// `AT+MDISCONNECT` -> `OK` (seed 000 section 6.2). Seed 000 FAQ 11 and seed 001 FAQ 2 say
    /// the broker publishes the will after `MDISCONNECT` or `MIPCLOSE`, so the module ends the
    /// link without an MQTT DISCONNECT (fixtures/DIVERGENCES.md).
    pub fn mdisconnect(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        // No manual page shows a test form; V.250 section 5.7.1: an action command's test
        // form answers `OK`.
        if *form == Form::Test {
            return out.ok();
        }
        if *form != Form::Exec {
            return out.error();
        }
        match (self.tcp, self.session) {
            (Tcp::Up(link), Session::Up | Session::Connecting) => {
                self.drop_link(Tcp::Idle);
                out.ok();
                out.net(NetRequest::Close { link });
            }
            _ => out.line(cell.cme(CME_MQTT)),
        }
    }

    /// `AT+MIPCLOSE` -> `OK`; `+CME ERROR: 767` after the peer closed the link (seed 001
    /// passive-close flow); `OK` after the network dropped the PDP context (seed 001 PDN flow).
    pub fn mipclose(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        if *form == Form::Test {
            return out.ok();
        }
        if *form != Form::Exec {
            return out.error();
        }
        match self.tcp {
            Tcp::PeerClosed => {
                self.tcp = Tcp::Idle;
                out.line(cell.cme(CME_MQTT))
            }
            Tcp::Idle => out.ok(),
            Tcp::Up(link) | Tcp::Connecting(link) => {
                self.drop_link(Tcp::Idle);
                out.ok();
                out.net(NetRequest::Close { link });
            }
        }
    }

    /// A failed connect: `STATE: <state>` then `CONNECT FAIL` (luatos-doc-pool
    /// Command_List/MQTT/MIPSTART.md, single link; public/780EP_AT_TCP应用指南.md section 3 logs
    /// `STATE: IP STATUS` / `CONNECT FAIL` for the TCP/IP stack's connect).
    fn connect_fail(&self, out: &mut Out) {
        out.line(format!("STATE: {}", self.fail_state));
        out.line("CONNECT FAIL");
    }

    /// TCP is up (the TCP/IP stack's `AT+CIPSTATUS` then reads `CONNECT OK`).
    pub fn tcp_up(&self) -> bool {
        matches!(self.tcp, Tcp::Up(_))
    }

    /// Power is gone: the socket ends without an MQTT DISCONNECT (so the broker publishes the
    /// will) and every setting of the MQTT commands is lost, as RAM is. Link ids keep counting,
    /// so a late event of the old link is recognised and ignored.
    pub fn power_off(&mut self, out: &mut Out) {
        if let Some(link) = self.link() {
            out.net(NetRequest::Close { link });
        }
        let next_link = self.next_link;
        *self = Mqtt {
            next_link,
            ..Mqtt::default()
        };
    }

    /// The bearer under the link went away: the socket is gone, but the module did not see the
    /// peer close it, so `AT+MIPCLOSE` answers `OK` (seed 001 PDN flow).
    pub fn network_lost(&mut self, out: &mut Out) {
        if let Some(link) = self.link() {
            out.net(NetRequest::Close { link });
        }
        self.drop_link(Tcp::Idle);
    }

    /// What the module prints when the network answers.
    pub fn on_net(&mut self, ev: NetEvent, out: &mut Out) {
        if self.link() != Some(ev.link) {
            tracing::debug!(link = ev.link, ?ev.kind, "event from a link the module already left");
            return;
        }
        match ev.kind {
            NetEventKind::Connected => {
                self.tcp = Tcp::Up(ev.link);
                out.line("CONNECT OK");
            }
            NetEventKind::ConnectFailed(reason) => {
                tracing::info!(%reason, "CONNECT FAIL");
                self.drop_link(Tcp::Idle);
                self.connect_fail(out);
            }
            NetEventKind::ConnAck(ConnectReturnCode::Success)
                if self.session == Session::Connecting =>
            {
                self.session = Session::Up;
                out.line("CONNACK OK");
            }
            NetEventKind::ConnAck(code) => {
                // No doc shows a refusal on the UART; the broker closes the link after a
                // refusing CONNACK (MQTT-3.2.2-5), which the module reports as CLOSED.
                tracing::warn!(?code, "broker refused the MQTT connection");
                self.drop_link(Tcp::PeerClosed);
                out.net(NetRequest::Close { link: ev.link });
                out.line("CLOSED");
            }
            NetEventKind::SubAck(_) => out.line("SUBACK"),
            NetEventKind::UnsubAck => out.line("UNSUBACK"),
            NetEventKind::PubAck => {
                self.inflight = false;
                out.line("PUBACK");
            }
            NetEventKind::PubRec => out.line("PUBREC"),
            NetEventKind::PubComp => {
                self.inflight = false;
                out.line("PUBCOMP");
            }
            NetEventKind::Message { topic, payload, .. } => self.deliver(topic, payload, out),
            NetEventKind::Closed(reason) => {
                let level_reason = match &reason {
                    CloseReason::PeerClosed => "peer closed".to_string(),
                    other => format!("{other:?}"),
                };
                tracing::info!(reason = %level_reason, "link lost: CLOSED");
                self.drop_link(Tcp::PeerClosed);
                out.line("CLOSED");
            }
            // HTTP exchanges are the HTTP module's (routed before this).
            NetEventKind::HttpDone(_) | NetEventKind::HttpFailed(_) => {}
            // Raw socket events belong to the TCP/IP stack's links (`cip.rs`).
            NetEventKind::SockData { .. } | NetEventKind::SockSent(_) => {}
            NetEventKind::Resolved(_) => {}
        }
    }

    fn deliver(&mut self, topic: String, payload: Bytes, out: &mut Out) {
        let payload = if payload.len() > MSUB_MAX {
            tracing::warn!(
                len = payload.len(),
                "message longer than the module prints; truncated to {MSUB_MAX}"
            );
            payload.slice(..MSUB_MAX)
        } else {
            payload
        };
        if !self.cache_mode {
            return self.print_msub(&topic, &payload, out);
        }
        self.seq += 1;
        let slot = match self.cache.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                // Full: the newest overwrites the oldest (seed 000 FAQ 14).
                let (oldest, _) = self
                    .cache
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, c)| c.as_ref().map_or(0, |c| c.seq))
                    .unwrap_or((0, &None));
                tracing::warn!(
                    slot = oldest,
                    "receive cache full: overwriting the oldest message"
                );
                oldest
            }
        };
        self.cache[slot] = Some(Cached {
            seq: self.seq,
            topic,
            payload,
        });
        out.line(format!("+MSUB: {slot}"));
    }

    /// `+MSUB: "<topic>",<n> byte,<payload>` with exactly `n` raw payload bytes (seed 000
    /// section 6.2; notes section 14).
    fn print_msub(&self, topic: &str, payload: &[u8], out: &mut Out) {
        let body: Vec<u8> = if self.hex_mode {
            hex_upper(payload).into_bytes()
        } else {
            payload.to_vec()
        };
        out.raw(format!("\r\n+MSUB: \"{topic}\",{} byte,", body.len()).as_bytes());
        out.raw(&body);
        out.raw(b"\r\n");
    }
}
