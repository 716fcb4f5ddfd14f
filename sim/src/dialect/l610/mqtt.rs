//! The L610's MQTT commands (`AT+MQTT*`) and the URCs it prints when the network answers.
//!
//! Unlike the Air780E, one command opens both TCP and MQTT (`AT+MQTTOPEN`), every result is a
//! URC with the client id and a status (`+MQTTOPEN: 1,1`), and there are two clients, ids 1 and
//! 2 (mqtt manual transcription, `AT+MQTTUSER`: "最多2个MQTT连接").

use bytes::Bytes;

use crate::at::{Arg, Form};
use crate::dialect::params::{message_or_length, MessageOrLength};
use crate::dialect::{Out, Prompt};
use crate::modem::CellState;
use crate::net::{
    ConnectParams, ConnectReturnCode, LinkId, MqttOp, NetEvent, NetEventKind, NetRequest, QoS, Will,
};

use super::ssl::Ssl;
use super::{num_in, set_args, CME_NOT_ALLOWED};
use crate::dialect::params::{args_or_syntax, fixed_args, flag, mqtt_op};
use crate::dialect::params::{qos_of, topic_filter, topic_name};

/// Client ids 1 and 2.
pub const CLIENTS: usize = 2;
/// Topic length 1..=255 (mqtt manual transcription, `AT+MQTTPUB`).
pub const TOPIC_MAX: usize = 255;
/// Payload limit of `AT+MQTTPUB`, both forms: 1024 bytes (mqtt manual transcription, the only
/// limit any source gives; fixtures/DIVERGENCES.md).
pub const PUB_MAX: usize = 1024;
/// `<Username>` and `<Password>` up to 128 bytes (mqtt manual transcription, `AT+MQTTUSER`).
pub const CRED_MAX: usize = 128;
/// `<ClientIDStr>` up to 128 bytes. The transcription says 23 (MQTT 3.1.1's minimum a server
/// must accept), but a real L610 took a 55-byte client id, with a 40-byte user name, in 36
/// logged runs (issue 10); brokers accept far longer ids (fixtures/DIVERGENCES.md L17).
pub const CLIENT_ID_MAX: usize = 128;
/// How long a `>` prompt (`AT+MQTTPUB` and `AT+MQTTWILL` length forms, `AT+GTSSLFILE`) waits
/// for the next byte before it is abandoned with `ERROR`. No L610 source gives one; the
/// Air780E's 5 s (fixtures/DIVERGENCES.md A24).
pub const PROMPT_IDLE: std::time::Duration = std::time::Duration::from_secs(5);
/// The port the guide's log opens TLS on with no explicit flag (seed 002 section 3.3).
pub const MQTTS_PORT: u16 = 8883;
/// `+MQTTBREAK` causes (mqtt manual transcription): 1 the link failed (peer closed, reset,
/// keepalive), 2 the bearer went away (the data call ended).
const BREAK_LINK: u8 = 1;
const BREAK_BEARER: u8 = 2;

/// `AT+MQTTUSER` settings of one client.
#[derive(Debug, Clone, Default, PartialEq)]
struct User {
    username: String,
    password: String,
    /// `<ClientIDStr>`; the IMEI when absent.
    client_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
enum State {
    #[default]
    Closed,
    /// TCP is being opened; CONNECT goes out once it is up.
    Dialing(LinkId, ConnectParams),
    /// CONNECT sent, waiting for CONNACK.
    Connecting(LinkId),
    Up(LinkId),
}

impl State {
    fn link(&self) -> Option<LinkId> {
        match self {
            State::Closed => None,
            State::Dialing(l, _) | State::Connecting(l) | State::Up(l) => Some(*l),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Client {
    user: Option<User>,
    will: Option<Will>,
    state: State,
    /// The current link is TLS: a failed connect is a TLS error for `AT+GTSSLERR?`.
    tls: bool,
}

/// A length-form `AT+MQTTPUB` waiting for its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingPublish {
    id: usize,
    topic: String,
    qos: QoS,
    retain: bool,
}

/// A length-form `AT+MQTTWILL` waiting for its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingWill {
    id: usize,
    topic: String,
    qos: QoS,
    retain: bool,
}

#[derive(Debug, Default)]
pub struct Mqtt {
    clients: [Client; CLIENTS],
    next_link: LinkId,
}

/// The client index for an id parameter (1 or 2).
fn client_of(arg: Option<&Arg>) -> Option<usize> {
    num_in(arg, 1..=CLIENTS as u32).map(|n| n as usize - 1)
}

/// The family's MQTT error codes for a refused CONNACK (mqtt manual transcription, "MQTT错误码":
/// 700 protocol version, 701 client id rejected, 702 server unavailable, 703 bad user name or
/// password, 704 not authorized: CONNACK return codes 1..5 in order).
fn connack_cme(code: ConnectReturnCode) -> Option<u16> {
    match code {
        ConnectReturnCode::Success => None,
        ConnectReturnCode::RefusedProtocolVersion => Some(700),
        ConnectReturnCode::BadClientId => Some(701),
        ConnectReturnCode::ServiceUnavailable => Some(702),
        ConnectReturnCode::BadUserNamePassword => Some(703),
        ConnectReturnCode::NotAuthorized => Some(704),
    }
}

impl Mqtt {
    /// The client on `link`, if it is one of ours.
    fn by_link(&self, link: LinkId) -> Option<usize> {
        self.clients
            .iter()
            .position(|c| c.state.link() == Some(link))
    }

    /// `OK` and `op` on client `id`'s session, or `+CME ERROR: 3` when it is not open.
    fn client_op(&self, cell: &CellState, id: usize, op: MqttOp, out: &mut Out) {
        mqtt_op(out, self.up(id), || cell.cme(CME_NOT_ALLOWED), op)
    }

    fn up(&self, id: usize) -> Option<LinkId> {
        match self.clients.get(id)?.state {
            State::Up(l) => Some(l),
            _ => None,
        }
    }

    /// `AT+MQTTUSER=<id>,"<user>","<pwd>"[,"<client id>"]` -> `OK` (seed 002 section 3.3; the
    /// optional client id, which defaults to the IMEI, and the limits from the mqtt manual
    /// transcription). Read form: `+MQTTUSER: <id>,"<user>","<pwd>","<client id>"` per
    /// configured client.
    pub fn mqttuser(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        match form {
            Form::Read => {
                for (i, c) in self.clients.iter().enumerate() {
                    if let Some(u) = &c.user {
                        let id = u.client_id.as_deref().unwrap_or(&cell.identity.imei);
                        out.line(format!(
                            "+MQTTUSER: {},\"{}\",\"{}\",\"{id}\"",
                            i + 1,
                            u.username,
                            u.password
                        ));
                    }
                }
                return out.ok();
            }
            Form::Test => return out.ok(),
            Form::Exec => return out.error(),
            Form::Set(_) => {}
        }
        let Some(args) = set_args(form) else {
            return out.error();
        };
        let (Some(id), 3..=4) = (client_of(args.first()), args.len()) else {
            return out.error();
        };
        let (user, pwd) = (&args[1], &args[2]);
        if user.bytes.len() > CRED_MAX || pwd.bytes.len() > CRED_MAX {
            return out.error();
        }
        let client_id = match args.get(3) {
            Some(a) if a.bytes.is_empty() || a.bytes.len() > CLIENT_ID_MAX => return out.error(),
            Some(a) => Some(a.text()),
            None => None,
        };
        self.clients[id].user = Some(User {
            username: user.text(),
            password: pwd.text(),
            client_id,
        });
        out.ok()
    }

    /// `AT+MQTTWILL=<id>,"<topic>",<qos>,<retain>,"<message>"` -> `OK` (seed 002 section 3.3:
    /// "参数依次为 Client_id、主题名和 QoS 等级、保留标志和消息内容"; section 3.2: set it before
    /// `AT+MQTTOPEN`). With a bare number instead of the message it is the length form, as
    /// `AT+MQTTPUB` has it: `>`, exactly that many raw bytes (1..1024), `OK` (a Fibocom driver
    /// for AWS IoT sends it before `AT+MQTTOPEN`: issue 10; fixtures/DIVERGENCES.md L18).
    /// Returns the will waiting for its payload.
    pub fn mqttwill(&mut self, form: &Form, out: &mut Out) -> Option<PendingWill> {
        let (id, topic, qos, retain, msg) = message_args(form, out)?;
        match message_or_length(&msg) {
            MessageOrLength::Length(Some(len)) if (1..=PUB_MAX as u32).contains(&len) => {
                out.raw(b"\r\n>");
                out.prompt(Prompt::Exact(len as usize), PROMPT_IDLE);
                Some(PendingWill {
                    id,
                    topic,
                    qos,
                    retain,
                })
            }
            MessageOrLength::Message(m) if m.bytes.len() <= PUB_MAX => {
                self.clients[id].will = Some(Will {
                    topic,
                    payload: Bytes::from(m.bytes.clone()),
                    qos,
                    retain,
                });
                out.ok();
                None
            }
            _ => {
                out.error();
                None
            }
        }
    }

    /// The payload of a length-form `AT+MQTTWILL`: the will is set, `OK`.
    pub fn will_data(&mut self, w: PendingWill, data: Vec<u8>, out: &mut Out) {
        self.clients[w.id].will = Some(Will {
            topic: w.topic,
            payload: Bytes::from(data),
            qos: w.qos,
            retain: w.retain,
        });
        out.ok()
    }

    /// `AT+MQTTOPEN=<id>,"<host>",<port>,<clean>,<keepalive>[,<tls>]` -> `OK`, then
    /// `+MQTTOPEN: <id>,1` once CONNACK accepts, `+MQTTOPEN: <id>,0` when TCP or MQTT fails
    /// (seed 002 section 3.3, where the log misspells it `AT+MQTTOOPEN`; the `,0` form, the
    /// keepalive range 1..300 and `<tls>` from the mqtt manual transcription). A refused
    /// CONNACK also prints `+CME ERROR: 700..704` after the URC when `AT+CMEE` is 1 or 2.
    /// Before `AT+MIPCALL=1`, or on a client already open: `+CME ERROR: 3` (`ERROR` under
    /// `AT+CMEE=0`). Port 8883 without `<tls>`, or `<tls>` 1 or 2, asks for TLS
    /// (fixtures/DIVERGENCES.md L10): the `AT+GTSSL*` settings become [`crate::tls::TlsOptions`]
    /// (`Ssl::options`); settings that cannot work answer `+MQTTOPEN: <id>,0` at once.
    pub fn mqttopen(
        &mut self,
        cell: &CellState,
        call_up: bool,
        ssl: &mut Ssl,
        form: &Form,
        out: &mut Out,
    ) {
        match form {
            Form::Read => return self.mqttopen_read(out),
            Form::Test => return out.ok(),
            Form::Exec => return out.error(),
            Form::Set(_) => {}
        }
        let Some(args) = set_args(form) else {
            return out.error();
        };
        let (5..=6, Some(id)) = (args.len(), client_of(args.first())) else {
            return out.error();
        };
        let host = args[1].text();
        let (Some(port), Some(clean), Some(keepalive)) = (
            num_in(args.get(2), 1..=65535),
            flag(args.get(3)),
            num_in(args.get(4), 1..=300),
        ) else {
            return out.error();
        };
        if host.is_empty() || host.len() > 255 {
            return out.error();
        }
        let tls = match args.get(5) {
            None => port == u32::from(MQTTS_PORT),
            Some(a) => match num_in(Some(a), 0..=2) {
                Some(n) => n != 0,
                None => return out.error(),
            },
        };
        if !call_up || self.clients[id].state != State::Closed {
            return out.line(cell.cme(CME_NOT_ALLOWED));
        }
        out.ok();
        let link = || format!("client {} port {port}", id + 1);
        let tls = match tls.then(|| ssl.open_options(&link(), &host)) {
            Some(None) => return out.line(format!("+MQTTOPEN: {},0", id + 1)),
            tls => tls.flatten(),
        };
        let params = self.connect_params(cell, id, clean, keepalive as u16);
        self.next_link += 1;
        let link = self.next_link;
        self.clients[id].state = State::Dialing(link, params);
        self.clients[id].tls = tls.is_some();
        out.net(NetRequest::Open {
            link,
            host,
            port: port as u16,
            tls,
        });
    }

    /// `AT+MQTTOPEN?`: the open clients' ids, `0` when none is.
    fn mqttopen_read(&self, out: &mut Out) {
        let open: Vec<usize> = (0..CLIENTS).filter(|&i| self.up(i).is_some()).collect();
        if open.is_empty() {
            out.line("+MQTTOPEN: 0");
        }
        for i in open {
            out.line(format!("+MQTTOPEN: {}", i + 1));
        }
        out.ok()
    }

    /// The CONNECT of client `id`: its `AT+MQTTUSER` account (the client id defaults to the
    /// IMEI) and its `AT+MQTTWILL`.
    fn connect_params(
        &self,
        cell: &CellState,
        id: usize,
        clean: bool,
        keepalive: u16,
    ) -> ConnectParams {
        let client = &self.clients[id];
        let user = client.user.clone().unwrap_or_default();
        ConnectParams {
            client_id: user
                .client_id
                .clone()
                .unwrap_or_else(|| cell.identity.imei.clone()),
            username: Some(user.username.clone()).filter(|u| !u.is_empty()),
            password: Some(user.password.clone()).filter(|_| !user.username.is_empty()),
            clean_session: clean,
            keepalive,
            will: client.will.clone(),
        }
    }

    /// `AT+MQTTSUB=<id>,"<topic>",<qos>` -> `OK`, then `+MQTTSUB: <id>,1` on SUBACK (`,0` when
    /// the broker refuses the filter) (seed 002 section 3.3). On a client not open:
    /// `+CME ERROR: 3`.
    pub fn mqttsub(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        let Some([id, topic, qos]) = fixed_args(form, out, &[]) else {
            return;
        };
        let (Some(id), Some(topic), Some(qos)) = (
            client_of(Some(&id)),
            topic_filter(&topic, TOPIC_MAX),
            qos_of(Some(&qos)),
        ) else {
            return out.error();
        };
        let refusal = || cell.cme(CME_NOT_ALLOWED);
        mqtt_op(
            out,
            self.up(id),
            refusal,
            MqttOp::Subscribe(vec![(topic, qos)]),
        )
    }

    /// `AT+MQTTUNSUB=<id>,"<topic>"` -> `OK`, then `+MQTTUNSUB: <id>,1` on UNSUBACK (seed 002
    /// section 3.3).
    pub fn mqttunsub(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        let Some([id, topic]) = fixed_args(form, out, &[]) else {
            return;
        };
        let (Some(id), Some(topic)) = (client_of(Some(&id)), topic_filter(&topic, TOPIC_MAX))
        else {
            return out.error();
        };
        self.client_op(cell, id, MqttOp::Unsubscribe(vec![topic]), out)
    }

    /// `AT+MQTTPUB=<id>,"<topic>",<qos>,<retain>,"<message>"` -> `OK`, then
    /// `+MQTTPUB: <id>,1` (seed 002 section 3.3). With a bare number instead of the quoted
    /// message it is the length form ("ODM 模式, 可支持 JSON 格式", section 3.2): `>`, then
    /// exactly that many raw bytes, then `OK` and `+MQTTPUB: <id>,1`. `+MQTTPUB` comes at once
    /// for QoS 0, on PUBACK for QoS 1 and on PUBCOMP for QoS 2. On a client not open:
    /// `+CME ERROR: 3`. Returns the publish waiting for its payload in the length form.
    pub fn mqttpub(
        &mut self,
        cell: &CellState,
        form: &Form,
        out: &mut Out,
    ) -> Option<PendingPublish> {
        let (id, topic, qos, retain, msg) = message_args(form, out)?;
        // A bare number is the length form, also when it does not fit in 32 bits
        // (`4294967296` is a length too large, not a message: issue 15).
        let length = match message_or_length(&msg) {
            MessageOrLength::Length(Some(len)) if (1..=PUB_MAX as u32).contains(&len) => Some(len),
            MessageOrLength::Message(m) if m.bytes.len() <= PUB_MAX => None,
            _ => {
                out.error();
                return None;
            }
        };
        if self.up(id).is_none() {
            out.line(cell.cme(CME_NOT_ALLOWED));
            return None;
        }
        let pending = PendingPublish {
            id,
            topic,
            qos,
            retain,
        };
        match length {
            Some(len) => {
                // The prompt as the Air780E prints it: `\r\n>` and nothing after it.
                out.raw(b"\r\n>");
                out.prompt(Prompt::Exact(len as usize), PROMPT_IDLE);
                Some(pending)
            }
            None => {
                self.publish(cell, pending, Bytes::from(msg.bytes.clone()), out);
                None
            }
        }
    }

    /// The payload of a length-form `AT+MQTTPUB`.
    pub fn publish_data(
        &mut self,
        cell: &CellState,
        p: PendingPublish,
        data: Vec<u8>,
        out: &mut Out,
    ) {
        self.publish(cell, p, data.into(), out)
    }

    fn publish(&mut self, cell: &CellState, p: PendingPublish, payload: Bytes, out: &mut Out) {
        let Some(link) = self.up(p.id) else {
            // The client broke while the payload was on its way.
            return out.line(cell.cme(CME_NOT_ALLOWED));
        };
        out.ok();
        out.net(NetRequest::Mqtt {
            link,
            op: MqttOp::Publish {
                topic: p.topic,
                qos: p.qos,
                retain: p.retain,
                payload,
            },
        });
        if p.qos == QoS::AtMostOnce {
            // Nothing comes back for QoS 0: the module reports it sent.
            out.line(format!("+MQTTPUB: {},1", p.id + 1));
        }
    }

    /// `AT+MQTTCLOSE=<id>` -> `OK`, then `+MQTTCLOSE: <id>,1` (seed 002 section 3.3). The
    /// module sends DISCONNECT, so the broker drops the will (MQTT 3.1.1 section 3.14). On a
    /// client not open: `+CME ERROR: 3`.
    pub fn mqttclose(&mut self, cell: &CellState, form: &Form, out: &mut Out) {
        if *form == Form::Test {
            return out.ok();
        }
        let args = set_args(form);
        let Some([id]) = args.as_deref() else {
            return out.error();
        };
        let Some(id) = client_of(Some(id)) else {
            return out.error();
        };
        let state = std::mem::take(&mut self.clients[id].state);
        let Some(link) = state.link() else {
            return out.line(cell.cme(CME_NOT_ALLOWED));
        };
        out.ok();
        if matches!(state, State::Up(_)) {
            out.net(NetRequest::Mqtt {
                link,
                op: MqttOp::Disconnect,
            });
        }
        out.net(NetRequest::Close { link });
        out.line(format!("+MQTTCLOSE: {},1", id + 1));
    }

    /// The data call ended under the clients: each open one breaks with cause 2, one still
    /// opening fails.
    /// Power is gone: every link ends without an MQTT DISCONNECT (the broker publishes the
    /// wills) and nothing is printed; every client's settings are lost. Link ids keep counting.
    pub fn power_off(&mut self, out: &mut Out) {
        for c in &self.clients {
            if let Some(link) = c.state.link() {
                out.net(NetRequest::Close { link });
            }
        }
        let next_link = self.next_link;
        *self = Mqtt {
            next_link,
            ..Mqtt::default()
        };
    }

    pub fn network_lost(&mut self, out: &mut Out) {
        for (i, c) in self.clients.iter_mut().enumerate() {
            let state = std::mem::take(&mut c.state);
            let Some(link) = state.link() else { continue };
            out.net(NetRequest::Close { link });
            match state {
                State::Up(_) => out.line(format!("+MQTTBREAK: {},{BREAK_BEARER}", i + 1)),
                _ => out.line(format!("+MQTTOPEN: {},0", i + 1)),
            }
        }
    }

    /// What the module prints when the network answers.
    pub fn on_net(&mut self, cell: &CellState, ssl: &mut Ssl, ev: NetEvent, out: &mut Out) {
        let Some(i) = self.by_link(ev.link) else {
            tracing::debug!(link = ev.link, ?ev.kind, "event from a link the module already left");
            return;
        };
        let id = i + 1;
        let client = &mut self.clients[i];
        match ev.kind {
            NetEventKind::Connected => {
                if client.tls {
                    // The handshake is part of the connect: it went through.
                    ssl.set_error(super::ssl::err::NONE);
                }
                if let State::Dialing(link, params) = std::mem::take(&mut client.state) {
                    client.state = State::Connecting(link);
                    out.net(NetRequest::Mqtt {
                        link,
                        op: MqttOp::Connect(params),
                    });
                }
            }
            NetEventKind::ConnectFailed(reason) => {
                tracing::info!(%reason, client = id, tls = client.tls, "connect failed");
                if client.tls {
                    ssl.set_error(Ssl::error_for(&reason));
                }
                client.state = State::Closed;
                out.line(format!("+MQTTOPEN: {id},0"));
            }

            NetEventKind::ConnAck(ConnectReturnCode::Success) => {
                client.state = State::Up(ev.link);
                out.line(format!("+MQTTOPEN: {id},1"));
            }
            NetEventKind::ConnAck(code) => {
                tracing::warn!(?code, client = id, "broker refused the MQTT connection");
                client.state = State::Closed;
                out.net(NetRequest::Close { link: ev.link });
                out.line(format!("+MQTTOPEN: {id},0"));
                if let (Some(cme), 1..) = (connack_cme(code), cell.cmee) {
                    out.line(cell.cme(cme));
                }
            }
            NetEventKind::SubAck(granted) => {
                let ok = granted.iter().all(Option::is_some);
                out.line(format!("+MQTTSUB: {id},{}", u8::from(ok)));
            }
            NetEventKind::UnsubAck => out.line(format!("+MQTTUNSUB: {id},1")),
            NetEventKind::PubAck | NetEventKind::PubComp => out.line(format!("+MQTTPUB: {id},1")),
            NetEventKind::PubRec => {}
            NetEventKind::Message {
                topic,
                qos,
                payload,
                ..
            } => {
                // Seed 002 section 3.3: `+MQTTMSG: 1, 0, test1, 123`: id, QoS, topic, payload,
                // separated by comma and space, nothing quoted; the payload is raw (the second
                // message's `"123"` is the 5 bytes the length-form publish sent).
                out.raw(format!("\r\n+MQTTMSG: {id}, {}, {topic}, ", qos as u8).as_bytes());
                out.raw(&payload);
                out.raw(b"\r\n");
            }
            NetEventKind::Closed(reason) => {
                tracing::info!(?reason, client = id, "MQTT link lost");
                let was = std::mem::take(&mut client.state);
                match was {
                    State::Up(_) => out.line(format!("+MQTTBREAK: {id},{BREAK_LINK}")),
                    _ => out.line(format!("+MQTTOPEN: {id},0")),
                }
            }
            // HTTP exchanges are the HTTP module's (routed before this).
            NetEventKind::HttpDone(_) | NetEventKind::HttpFailed(_) => {}
            // Raw socket events belong to the socket commands, not to an MQTT client.
            NetEventKind::SockData { .. } | NetEventKind::SockSent(_) => {}
            NetEventKind::Resolved(_) => {}
        }
    }
}

/// `<id>,"<topic>",<qos>,<retain>,<message or length>`, the parameters `AT+MQTTPUB` and
/// `AT+MQTTWILL` share (seed 002 section 3.3): `OK` for the test form, `ERROR` for another
/// form or a bad parameter, `None` once answered.
fn message_args(form: &Form, out: &mut Out) -> Option<(usize, String, QoS, bool, Arg)> {
    let args = args_or_syntax(form, out, &[])?;
    let parsed = match args.as_slice() {
        [id, topic, qos, retain, msg] => match (
            client_of(Some(id)),
            topic_name(topic, TOPIC_MAX),
            qos_of(Some(qos)),
            flag(Some(retain)),
        ) {
            (Some(id), Some(topic), Some(qos), Some(retain)) => {
                Some((id, topic, qos, retain, msg.clone()))
            }
            _ => None,
        },
        _ => None,
    };
    if parsed.is_none() {
        out.error();
    }
    parsed
}
