//! Parameter rules shared by the dialects: what a module takes as a number, a QoS, a flag, a
//! topic. One place, so a fix (such as refusing topics MQTT forbids) reaches every module.

use crate::at::{split_args, Arg, Form};
use crate::modem::CellState;
use crate::net::{LinkId, MqttOp, NetRequest, QoS};

use super::Out;

/// The parameters of a `Form::Set`, or `None` for any other form or bad syntax.
pub fn set_args(form: &Form) -> Option<Vec<Arg>> {
    match form {
        Form::Set(raw) => split_args(raw).ok(),
        _ => None,
    }
}

/// The parameters of `AT+X=...`, having answered the other forms: `AT+X=?` prints `syntax`'s
/// lines and `OK`; `AT+X`, `AT+X?` and parameters that do not split answer `ERROR`. `None` when
/// it has answered.
pub fn args_or_syntax(form: &Form, out: &mut Out, syntax: &[&str]) -> Option<Vec<Arg>> {
    if *form == Form::Test {
        for line in syntax {
            out.line(line);
        }
        out.ok();
        return None;
    }
    let args = set_args(form);
    if args.is_none() {
        out.error();
    }
    args
}

/// Exactly `N` parameters of `AT+X=...`, as [`args_or_syntax`] answers the other forms;
/// another count answers `ERROR`.
pub fn fixed_args<const N: usize>(form: &Form, out: &mut Out, syntax: &[&str]) -> Option<[Arg; N]> {
    let args = <[Arg; N]>::try_from(args_or_syntax(form, out, syntax)?).ok();
    if args.is_none() {
        out.error();
    }
    args
}

/// `OK`, then `op` on the MQTT session's `link`; without a session, the `refusal` line
/// instead (each dialect's `+CME ERROR`).
pub fn mqtt_op(out: &mut Out, link: Option<LinkId>, refusal: impl FnOnce() -> String, op: MqttOp) {
    let Some(link) = link else {
        return out.line(refusal());
    };
    out.ok();
    out.net(NetRequest::Mqtt { link, op });
}

/// The part of a response `AT+HTTPREAD` asks for, in both dialects: bare, the whole of it
/// (`Some(None)`); `=<start>,<size>` (`<size>` 1 and up), that part. `ERROR` for the read and
/// test forms (each dialect answers its test form first) or bad numbers; `None` once answered.
pub fn read_part(form: &Form, out: &mut Out) -> Option<Option<(usize, usize)>> {
    let part = match form {
        Form::Exec => Some(None),
        Form::Set(_) => match set_args(form).as_deref() {
            Some([s, n]) => match (s.number(), num_in(Some(n), 1..=u32::MAX)) {
                (Some(s), Some(n)) => Some(Some((s as usize, n as usize))),
                _ => None,
            },
            _ => None,
        },
        Form::Read | Form::Test => None,
    };
    if part.is_none() {
        out.error();
    }
    part
}

/// Hex digits (either case, an even count) as bytes: the hex payloads of the Air780E's
/// `AT+MQTTMODE=1` and the L610's `AT+MIPSEND=<id>,"<hex>"`.
pub fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// Bytes as upper-case hex digits, as both modules print hex data.
pub fn hex_upper(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02X}")).collect()
}

/// A number parameter within `range`.
pub fn num_in(arg: Option<&Arg>, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    arg.and_then(Arg::number).filter(|n| range.contains(n))
}

/// The last parameter of a command that takes a quoted message or a payload length (the
/// L610's `AT+MQTTPUB` and `AT+MQTTWILL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageOrLength<'a> {
    Message(&'a Arg),
    /// Bare decimal digits: the length form. `None` when the number does not fit (it is a
    /// length all the same, and too large: `4294967296` is not a message).
    Length(Option<u32>),
}

pub fn message_or_length(arg: &Arg) -> MessageOrLength<'_> {
    if !arg.quoted && !arg.bytes.is_empty() && arg.bytes.iter().all(u8::is_ascii_digit) {
        MessageOrLength::Length(arg.number())
    } else {
        MessageOrLength::Message(arg)
    }
}

/// A QoS parameter, 0..=2.
pub fn qos_of(arg: Option<&Arg>) -> Option<QoS> {
    match num_in(arg, 0..=2)? {
        0 => Some(QoS::AtMostOnce),
        1 => Some(QoS::AtLeastOnce),
        _ => Some(QoS::ExactlyOnce),
    }
}

/// A 0/1 parameter.
pub fn flag(arg: Option<&Arg>) -> Option<bool> {
    num_in(arg, 0..=1).map(|n| n == 1)
}

/// A topic to publish to: UTF-8, at most `max` bytes, and a valid MQTT topic name (no
/// wildcards, no NUL: MQTT-3.3.2-2, MQTT-4.7.3-2). Anything else the broker would answer by
/// closing the link, so a module refuses it up front with `ERROR`.
pub fn topic_name(arg: &Arg, max: usize) -> Option<String> {
    let t = String::from_utf8(arg.bytes.clone()).ok()?;
    (t.len() <= max && crate::broker::topic::valid_topic(&t)).then_some(t)
}

/// A topic filter to subscribe with (MQTT-4.7.1-2, MQTT-4.7.1-3), same limits.
pub fn topic_filter(arg: &Arg, max: usize) -> Option<String> {
    let t = String::from_utf8(arg.bytes.clone()).ok()?;
    (t.len() <= max && crate::broker::topic::valid_filter(&t)).then_some(t)
}

/// The one number parameter of a `Form::Set` within `range`; `None` for another form, another
/// count of parameters, or a value out of range.
pub fn one_number(form: &Form, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    match set_args(form).as_deref() {
        Some([n]) => num_in(Some(n), range),
        _ => None,
    }
}

/// A setting that is one value: `AT+X?` prints `read()`, `AT+X=?` prints `test` (only `OK`
/// when `None`), and `AT+X=<v>` answers `OK` and returns what `valid` makes of `<v>` for the
/// caller to store. `ERROR` when it makes nothing, for another count of parameters, and for
/// `AT+X` (notes section 11: parameter errors are plain `ERROR`).
pub fn setting(
    form: &Form,
    out: &mut Out,
    read: impl FnOnce() -> String,
    test: Option<&str>,
    valid: impl FnOnce(&Arg) -> Option<u32>,
) -> Option<u32> {
    match form {
        Form::Read => {
            out.line(read());
            out.ok();
        }
        Form::Test => {
            if let Some(t) = test {
                out.line(t);
            }
            out.ok();
        }
        Form::Set(_) => match set_args(form).as_deref() {
            Some([v]) => match valid(v) {
                Some(n) => {
                    out.ok();
                    return Some(n);
                }
                None => out.error(),
            },
            _ => out.error(),
        },
        Form::Exec => out.error(),
    }
    None
}

/// A setting that is one number: `AT+X?` prints `+X: <v>`, `AT+X=?` prints the range, and
/// `AT+X=<n>` answers `OK` and returns `n` for the caller to store. Anything else, and a value
/// out of range, answers `ERROR` (see [`setting`]).
pub fn number_setting(
    form: &Form,
    out: &mut Out,
    prefix: &str,
    range: std::ops::RangeInclusive<u32>,
    current: u32,
) -> Option<u32> {
    let (lo, hi) = (*range.start(), *range.end());
    let sep = if hi - lo == 1 { ',' } else { '-' };
    let test = format!("{prefix}: ({lo}{sep}{hi})");
    let read = || format!("{prefix}: {current}");
    setting(form, out, read, Some(&test), |n| num_in(Some(n), range))
}

/// `AT+CREG`, `AT+CGREG`, `AT+CEREG` in both dialects: `?` prints the registration
/// (`+CGREG: 0,1`), `=?` `<prefix>: <syntax>`, `=<n>` (0..=`max`) sets the URC mode (27.007
/// sections 7.2, 10.1.20, 10.1.22; each dialect's `creg` cites its own captures).
pub fn registration(
    cell: &mut CellState,
    prefix: &str,
    (max, syntax): (u32, &str),
    form: &Form,
    out: &mut Out,
) {
    let test = format!("{prefix}: {syntax}");
    let read = || cell.registration_line(prefix);
    if let Some(n) = setting(form, out, read, Some(&test), |n| num_in(Some(n), 0..=max)) {
        *cell.registration_mode(prefix) = n as u8;
    }
}

/// `AT+CGPADDR`'s line for context `cid`: `+CGPADDR: 1,"<ip>"` while the PDP context is up,
/// `+CGPADDR: <cid>` for one without an address (27.007 section 10.1.14).
pub fn cgpaddr_line(cell: &CellState, cid: u32) -> String {
    if cid == 1 && cell.pdp_active {
        format!("+CGPADDR: 1,\"{}\"", cell.identity.ip)
    } else {
        format!("+CGPADDR: {cid}")
    }
}
