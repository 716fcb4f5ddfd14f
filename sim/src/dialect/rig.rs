//! The one test rig for every dialect: an [`Engine`] fed bytes, with network events faked and
//! its effects collected, and the set-ups every test file and `prompts.rs` share (an Air780E
//! connected, an L610 called or open). `prompts.rs` runs the timers in paused time.

use std::time::Duration;

use crate::dialect::malformed_table::MalformedCase;
use crate::dialect::{make, Dialect, DialectKind, Effect, Engine};
use crate::fault::Fault;
use crate::modem::Identity;
use crate::net::http::HttpRequest;
use crate::net::{
    CloseReason, ConnectReturnCode, LinkId, MqttOp, NetEvent, NetEventKind, NetRequest, QoS,
    SockProto, TlsOptions,
};

pub(crate) struct Rig {
    pub engine: Engine,
    /// Every UART byte so far.
    pub uart: Vec<u8>,
    /// Every network request so far.
    pub net: Vec<NetRequest>,
    /// Every timer asked for so far (the test fires them with [`Rig::fire`]).
    pub timers: Vec<(u64, Duration)>,
    /// What [`Rig::send`] ends a command line with: `\r` unless [`Rig::crlf`].
    pub eol: &'static str,
}

/// What a socket's peer sends: `bytes` from `from`.
pub(crate) fn sock_data(from: &str, bytes: &[u8]) -> NetEventKind {
    NetEventKind::SockData {
        data: bytes::Bytes::copy_from_slice(bytes),
        from: from.parse().expect("a socket address"),
    }
}

/// A message from the broker: `payload` on `topic` at `qos`, not retained.
pub(crate) fn message(topic: &str, qos: QoS, payload: &str) -> NetEventKind {
    NetEventKind::Message {
        topic: topic.into(),
        qos,
        retain: false,
        payload: payload.to_owned().into(),
    }
}

/// The PUBLISH a module sends for a QoS 0 message that is not retained.
pub(crate) fn publish(topic: &str, payload: &str) -> MqttOp {
    MqttOp::Publish {
        topic: topic.into(),
        qos: QoS::AtMostOnce,
        retain: false,
        payload: payload.to_owned().into(),
    }
}

impl Rig {
    /// A fresh module of `kind` with the default identity, echo off.
    pub fn new(kind: DialectKind) -> Self {
        Rig::with(make(kind, Identity::default()).expect("a built-in dialect"))
    }

    pub fn with(dialect: Box<dyn Dialect>) -> Self {
        Rig {
            engine: Engine::new(dialect, false),
            uart: vec![],
            net: vec![],
            timers: vec![],
            eol: "\r",
        }
    }

    /// Command lines end with CR LF from now on, as most drivers send them.
    pub fn crlf(mut self) -> Self {
        self.eol = "\r\n";
        self
    }

    /// The module brought to a state by `setup` (one of the set-ups below).
    pub fn set_up(mut self, setup: fn(&mut Rig)) -> Self {
        setup(&mut self);
        self
    }

    /// Collects `effects`; returns their UART bytes.
    pub fn take_bytes(&mut self, effects: Vec<Effect>) -> Vec<u8> {
        let mut bytes = Vec::new();
        for e in effects {
            match e {
                Effect::Uart(b) => bytes.extend(b),
                Effect::Net(r) => self.net.push(r),
                Effect::Timer { id, after } => self.timers.push((id, after)),
                Effect::Baud(_) => {}
            }
        }
        self.uart.extend(&bytes);
        bytes
    }

    /// Collects `effects`; returns their UART text.
    pub fn take(&mut self, effects: Vec<Effect>) -> String {
        let bytes = self.take_bytes(effects);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// One command line, ended with [`Rig::eol`].
    pub fn send(&mut self, line: &str) -> String {
        let line = format!("{line}{}", self.eol);
        self.raw(line.as_bytes())
    }

    /// A scripted exchange: each command in turn, its answer compared byte for byte.
    #[track_caller]
    pub fn script(&mut self, exchanges: &[(&str, &str)]) {
        for (command, answer) in exchanges {
            assert_eq!(self.send(command), *answer, "{command}");
        }
    }

    /// Each of `commands` in turn is answered `answer` (a table of bad parameters, say).
    #[track_caller]
    pub fn all_answer(&mut self, answer: &str, commands: &[&str]) {
        for command in commands {
            assert_eq!(self.send(command), answer, "{command}");
        }
    }

    /// Bytes as they come (prompted data, several lines, odd line ends).
    pub fn raw(&mut self, bytes: &[u8]) -> String {
        let fx = self.engine.feed(bytes);
        self.take(fx)
    }

    /// [`Rig::raw`], the answer as bytes (for binary data).
    pub fn raw_bytes(&mut self, bytes: &[u8]) -> Vec<u8> {
        let fx = self.engine.feed(bytes);
        self.take_bytes(fx)
    }

    pub fn event_on(&mut self, link: LinkId, kind: NetEventKind) -> String {
        let bytes = self.event_bytes(link, kind);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// [`Rig::event_on`], the answer as bytes (for binary data).
    pub fn event_bytes(&mut self, link: LinkId, kind: NetEventKind) -> Vec<u8> {
        let fx = self.engine.net_event(NetEvent { link, kind });
        self.take_bytes(fx)
    }

    /// An MQTT exchange: `input` is answered `answer` and sends `op` (the last request); the
    /// broker's `reply`
    /// (on the link opened last) then prints `urc`.
    #[track_caller]
    pub fn round_trip(
        &mut self,
        input: &[u8],
        answer: &str,
        op: MqttOp,
        reply: NetEventKind,
        urc: &str,
    ) {
        assert_eq!(self.raw(input), answer);
        match self.net.last() {
            Some(NetRequest::Mqtt { op: sent, .. }) => assert_eq!(sent, &op),
            other => panic!("{op:?} was not the last request: {other:?}"),
        }
        assert_eq!(self.event(reply), urc);
    }

    /// `input` subscribes to `topic` at QoS 0 and is answered `answer`; the broker grants
    /// it, which prints `urc`.
    #[track_caller]
    pub fn subscribes(&mut self, input: &[u8], answer: &str, topic: &str, urc: &str) {
        let op = MqttOp::Subscribe(vec![(topic.into(), QoS::AtMostOnce)]);
        let granted = NetEventKind::SubAck(vec![Some(QoS::AtMostOnce)]);
        self.round_trip(input, answer, op, granted, urc);
    }

    /// A network event on the (MQTT) link opened last.
    pub fn event(&mut self, kind: NetEventKind) -> String {
        let link = self.last_link();
        self.event_on(link, kind)
    }

    /// A network event on the `n`th socket opened (0-based).
    pub fn on_socket(&mut self, n: usize, kind: NetEventKind) -> String {
        let link = self.socket(n);
        self.event_on(link, kind)
    }

    /// The answer to the HTTP request made last.
    pub fn answer(&mut self, kind: NetEventKind) -> String {
        let link = self.last_http().0;
        self.event_on(link, kind)
    }

    /// Timer `id` expires.
    pub fn fire(&mut self, id: u64) -> String {
        let fx = self.engine.timer(id);
        self.take(fx)
    }

    /// The timer asked for last expires.
    pub fn fire_last(&mut self) -> String {
        let (id, _) = *self.timers.last().expect("a timer");
        self.fire(id)
    }

    /// An injected fault; returns what the modem printed.
    pub fn fault(&mut self, fault: impl Into<Fault>) -> String {
        let fx = self.engine.fault(&fault.into());
        self.take(fx)
    }

    /// The network takes the PDN context for `secs` seconds: what the modem printed, and the
    /// id of the timer that brings the context back (asked for `secs` seconds).
    pub fn pdn_deact_for(&mut self, secs: u64) -> (String, u64) {
        let back_after = Duration::from_secs(secs);
        let urc = self.fault(crate::fault::PdnDeact { back_after });
        let (id, after) = *self
            .timers
            .last()
            .expect("a timer for the context's return");
        assert_eq!(after, back_after);
        (urc, id)
    }

    /// The network takes the PDN context for `secs` seconds: the modem prints `urc` and
    /// answers `while_down` as scripted; the context comes back silently when its timer
    /// fires, and then `back` is answered as scripted.
    #[track_caller]
    pub fn pdn_outage(
        &mut self,
        secs: u64,
        urc: &str,
        while_down: &[(&str, &str)],
        back: &[(&str, &str)],
    ) {
        let (printed, id) = self.pdn_deact_for(secs);
        assert_eq!(printed, urc);
        self.script(while_down);
        assert_eq!(self.fire(id), "");
        self.script(back);
    }

    /// `act` prints `printed` and ends the link: a `Close` is the one request it makes.
    #[track_caller]
    pub fn closes(&mut self, act: impl FnOnce(&mut Rig) -> String, printed: &str) {
        let before = self.net.len();
        assert_eq!(act(self), printed);
        let made = &self.net[before..];
        assert!(matches!(made, [NetRequest::Close { .. }]), "{made:?}");
    }

    pub fn last_link(&self) -> LinkId {
        self.net
            .iter()
            .rev()
            .find_map(|r| match r {
                NetRequest::Open { link, .. } => Some(*link),
                _ => None,
            })
            .unwrap_or(0)
    }

    pub fn last_op(&self) -> Option<&MqttOp> {
        self.net.iter().rev().find_map(|r| match r {
            NetRequest::Mqtt { op, .. } => Some(op),
            _ => None,
        })
    }

    /// The TLS settings of the link opened last, if it is a TLS one.
    pub fn last_tls(&self) -> Option<TlsOptions> {
        self.net.iter().rev().find_map(|r| match r {
            NetRequest::Open { tls, .. } => Some(tls.clone()),
            _ => None,
        })?
    }

    /// Every payload published so far, in order.
    pub fn published(&self) -> Vec<Vec<u8>> {
        self.net
            .iter()
            .filter_map(|n| match n {
                NetRequest::Mqtt {
                    op: MqttOp::Publish { payload, .. },
                    ..
                } => Some(payload.to_vec()),
                _ => None,
            })
            .collect()
    }

    /// The will payload of the last CONNECT, if it had one.
    pub fn will(&self) -> Option<Vec<u8>> {
        self.net.iter().rev().find_map(|r| match r {
            NetRequest::Mqtt {
                op: MqttOp::Connect(p),
                ..
            } => Some(p.will.as_ref()?.payload.to_vec()),
            _ => None,
        })
    }

    /// Every socket opened so far: link, protocol, host, port, and whether over TLS.
    pub fn sockets(&self) -> Vec<(LinkId, SockProto, String, u16, bool)> {
        self.net
            .iter()
            .filter_map(|r| match r {
                NetRequest::SockOpen {
                    link,
                    proto,
                    host,
                    port,
                    tls,
                } => Some((*link, *proto, host.clone(), *port, tls.is_some())),
                _ => None,
            })
            .collect()
    }

    /// The link of the `n`th socket opened (0-based).
    pub fn socket(&self, n: usize) -> LinkId {
        self.sockets().get(n).expect("a socket was opened").0
    }

    /// Every socket send so far, in order, with its link.
    pub fn sock_sends(&self) -> Vec<(LinkId, Vec<u8>)> {
        self.net
            .iter()
            .filter_map(|r| match r {
                NetRequest::SockSend { link, data } => Some((*link, data.to_vec())),
                _ => None,
            })
            .collect()
    }

    /// The data of every socket send so far, in order.
    pub fn sent(&self) -> Vec<Vec<u8>> {
        self.sock_sends().into_iter().map(|(_, d)| d).collect()
    }

    /// The data of every send on socket `link` so far, in order.
    pub fn sent_on(&self, link: LinkId) -> Vec<Vec<u8>> {
        let sends = self.sock_sends().into_iter();
        sends.filter(|(l, _)| *l == link).map(|(_, d)| d).collect()
    }

    /// The HTTP request made last, with its link.
    pub fn last_http(&self) -> (LinkId, HttpRequest) {
        self.net
            .iter()
            .rev()
            .find_map(|r| match r {
                NetRequest::Http { link, req } => Some((*link, req.clone())),
                _ => None,
            })
            .expect("an HTTP request")
    }

    // --- the set-ups the tests share ---

    /// An Air780E through CONNACK OK (seed 000 section 6.2).
    pub fn connected(&mut self) {
        self.script(&[
            ("AT+MCONFIG=868488076771714,root,luat123456", "\r\nOK\r\n"),
            (
                "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"",
                "\r\nOK\r\n",
            ),
        ]);
        assert_eq!(self.event(NetEventKind::Connected), "\r\nCONNECT OK\r\n");
        assert_eq!(self.send("AT+MCONNECT=1,60"), "\r\nOK\r\n");
        self.connack("\r\nCONNACK OK\r\n");
    }

    /// The CONNACK that accepts the session, answered with `urc`.
    #[track_caller]
    pub fn connack(&mut self, urc: &str) {
        let got = self.event(NetEventKind::ConnAck(ConnectReturnCode::Success));
        assert_eq!(got, urc);
    }

    /// An L610 with its data call up (seed 002 section 3.3).
    pub fn called(&mut self) {
        assert_eq!(
            self.send("AT+MIPCALL=1"),
            "\r\nOK\r\n\r\n+MIPCALL: 10.104.48.68\r\n"
        );
    }

    /// An L610 through `+MQTTOPEN: 1,1` as seed 002 section 3.3 does it.
    pub fn open(&mut self) {
        self.called();
        self.script(&[
            (
                "AT+MQTTUSER=1,\"g510/test1\",\"LeKH43ojswwzINS15EGImf5JluPkCv9cPnu1DQUxGOk=\"",
                "\r\nOK\r\n",
            ),
            (
                "AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",1883,0,60",
                "\r\nOK\r\n",
            ),
        ]);
        assert_eq!(self.event(NetEventKind::Connected), "");
        self.connack("\r\n+MQTTOPEN: 1,1\r\n");
    }

    /// An L610's client 1 opened to `h`, the broker answering `code`: what the modem printed.
    pub fn reopen(&mut self, code: ConnectReturnCode) -> String {
        assert_eq!(self.send("AT+MQTTOPEN=1,\"h\",1883,1,60"), "\r\nOK\r\n");
        self.event(NetEventKind::Connected);
        self.event(NetEventKind::ConnAck(code))
    }

    /// An L610's client 1 opened again to `h` (after a break or a failure).
    pub fn open_again(&mut self) {
        let urc = self.reopen(ConnectReturnCode::Success);
        assert_eq!(urc, "\r\n+MQTTOPEN: 1,1\r\n");
    }
}

/// Faults `closed` and `reset` as a dialect sees them (a `Closed` event from the link), each
/// on a fresh module from `setup`: the module prints `urc`, then `after` checks what follows
/// and brings the session back.
pub(crate) fn broken_each_way(setup: fn() -> Rig, urc: &str, after: fn(&mut Rig)) {
    for reason in [
        CloseReason::PeerClosed,
        CloseReason::Reset("connection reset".into()),
    ] {
        let mut r = setup();
        assert_eq!(
            r.event(NetEventKind::Closed(reason.clone())),
            urc,
            "{reason:?}"
        );
        after(&mut r);
    }
}

/// A dialect's malformed-input table, `fixtures/malformed/<dialect>.tsv`.
fn malformed_tsv(kind: DialectKind) -> &'static str {
    match kind {
        DialectKind::Air780e => include_str!("../../../fixtures/malformed/air780e.tsv"),
        DialectKind::L610 => include_str!("../../../fixtures/malformed/l610.tsv"),
    }
}

/// Runs a dialect's malformed-input table ([`malformed_tsv`]): each row from a fresh module
/// brought to the row's state by `setup`, its answer compared byte for byte, then `AT` must
/// still answer `OK`. Panics listing every row that differs.
pub(crate) fn malformed_table(kind: DialectKind, setup: fn(&mut Rig, &MalformedCase)) -> usize {
    let cases = crate::dialect::malformed_table::malformed_cases(malformed_tsv(kind));
    assert!(cases.len() >= 100, "the table has {} cases", cases.len());
    let mut bad = Vec::new();
    for case in &cases {
        let mut r = Rig::new(kind);
        setup(&mut r, case);
        let got = r.raw(&case.input);
        if got.as_bytes() != &case.expected[..] {
            bad.push(format!(
                "{}: {:?} answered {got:?}, expected {:?}",
                case.why,
                String::from_utf8_lossy(&case.input[..case.input.len().min(80)]),
                String::from_utf8_lossy(&case.expected)
            ));
        }
        let at = r.send("AT");
        if at != "\r\nOK\r\n" {
            bad.push(format!("AT after {}: {at:?}", case.why));
        }
    }
    assert!(
        bad.is_empty(),
        "{} rows differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
    cases.len()
}

/// Checks that every command of a dialect's table has a row in the README's command table
/// for the dialect and at least one row in its malformed-input table: a command written as a
/// unit is documented and attacked in the same change. A basic command may be followed by its
/// number (`ATE0`); an extended one by a form or the line's end.
pub(crate) fn documented<D>(kind: DialectKind, table: &[crate::dialect::commands::Cmd<D>]) {
    let section = match kind {
        DialectKind::Air780e => "## The Air780E command table",
        DialectKind::L610 => "### The L610 command table",
    };
    let malformed = malformed_tsv(kind);
    let readme = include_str!("../../../README.md");
    let start = readme
        .find(&format!("{section}\n"))
        .unwrap_or_else(|| panic!("README has no heading {section:?}"));
    let body = &readme[start + section.len()..];
    let body = &body[..body.find("\n#").unwrap_or(body.len())];
    let inputs: Vec<Vec<u8>> = crate::dialect::malformed_table::malformed_cases(malformed)
        .into_iter()
        .map(|c| c.input)
        .collect();
    // `AT<name>` not followed by what would make it another command's name.
    let names = |text: &[u8], name: &str, at: usize| -> bool {
        let word = format!("AT{name}");
        text[at..].starts_with(word.as_bytes())
            && text.get(at + word.len()).is_none_or(|&c| {
                let extended = name.starts_with(['+', '*']);
                !(c.is_ascii_uppercase() || (extended && c.is_ascii_digit()) || c == b'&')
            })
    };
    let mut missing = Vec::new();
    for cmd in table {
        let b = body.as_bytes();
        if !(0..b.len()).any(|i| names(b, cmd.name, i)) {
            missing.push(format!("AT{}: no README row under {section:?}", cmd.name));
        }
        // A command line of the input: its first, or one after a line end.
        let in_input = |input: &Vec<u8>| {
            (0..input.len())
                .filter(|&i| i == 0 || matches!(input[i - 1], b'\r' | b'\n'))
                .any(|i| names(input, cmd.name, i))
        };
        if !inputs.iter().any(in_input) {
            missing.push(format!("AT{}: no malformed-input row", cmd.name));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
