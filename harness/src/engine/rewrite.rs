//! What the harness reads from, and rewrites in, the host's command lines: the broker, the
//! account and the client id, wherever a dialect's commands name them
//! ([`modem_sim::dialect::host::HostProfile`]: no dialect is named here).
//!
//! The guides connect to the vendor's servers (`airtest.openluat.com`, `lbsmqtt.airm2m.com`,
//! a Baidu host for the L610) with the vendor's accounts. The simulator routes every host to
//! its broker, but a real module resolves the name and dials it. So when a scenario or a log
//! runs against an external device, the host and port in `AT+MIPSTART` (Air780E) and
//! `AT+MQTTOPEN` (L610) become the broker given with `--broker`, and the user name and
//! password in `AT+MCONFIG` / `AT+MQTTUSER` become `--mqtt-user` / `--mqtt-password` when
//! given. Quoting is kept as written: the modules accept both forms (seed 000 section 6.2's
//! comment on MCONFIG), and the answers do not depend on it.

use modem_sim::at::{split_args, Arg};
use modem_sim::dialect::host::{host_profiles, ArgAt};
use modem_sim::net::HostPort;

/// The broker an external device must reach, and the account it logs in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerTarget {
    pub addr: HostPort,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// The arguments of `AT+X=<args>` (after `name`, which ends with `=`), split by the
/// simulator's own splitter ([`modem_sim::at::split_args`]: commas inside quotes do not split),
/// or `None` when `line` is another command or its arguments do not parse.
fn args_of(line: &str, name: &str) -> Option<(String, Vec<Arg>)> {
    let head = line.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    let args = split_args(&line.as_bytes()[name.len()..]).ok()?;
    Some((head.to_string(), args))
}

/// An argument as the host types it: quoted if it was, or if a comma in it would split it.
fn render_arg(a: &Arg) -> String {
    if a.quoted || a.bytes.contains(&b',') {
        format!("\"{}\"", a.text())
    } else {
        a.text()
    }
}

/// Replaces the arguments at `positions` (0-based) of a `NAME=` command with `values`, each
/// quoted the way the argument it replaces was.
fn replace_args(line: &str, name: &str, positions: &[(usize, String)]) -> Option<String> {
    let (head, mut args) = args_of(line, name)?;
    for (i, v) in positions {
        let a = args.get_mut(*i)?;
        a.bytes = v.clone().into_bytes();
    }
    let rendered: Vec<String> = args.iter().map(render_arg).collect();
    Some(format!("{head}{}", rendered.join(",")))
}

/// `AT<command>=`, the start of a set command as the host types it.
fn set_form(a: &ArgAt) -> String {
    format!("AT{}=", a.command)
}

/// The line to send instead of `line`, or `line` unchanged: the host and port of a command
/// that names the broker become `to`'s, and, when `to` has an account, the user name and
/// password of a command that logs in become its.
pub fn rewrite(line: &str, to: &BrokerTarget) -> String {
    let host = to.addr.host.clone();
    let port = to.addr.port.to_string();
    for a in host_profiles().flat_map(|p| p.connects) {
        let values = [(a.index, host.clone()), (a.index + 1, port.clone())];
        if let Some(r) = replace_args(line, &set_form(a), &values) {
            return r;
        }
    }
    if let (Some(user), Some(password)) = (&to.user, &to.password) {
        for a in host_profiles().flat_map(|p| p.logins) {
            let values = [(a.index, user.clone()), (a.index + 1, password.clone())];
            if let Some(r) = replace_args(line, &set_form(a), &values) {
                return r;
            }
        }
    }
    line.to_string()
}

/// The argument at `a` of `line`, when `line` is that command's set form.
fn arg_at(line: &str, a: &ArgAt) -> Option<Vec<Arg>> {
    let cmd = modem_sim::at::parse_line(line.as_bytes()).ok()?;
    match cmd.form {
        modem_sim::at::Form::Set(raw) if cmd.name == a.command => split_args(&raw).ok(),
        _ => None,
    }
}

/// The client id a command line names (`AT+MCONFIG=<clientid>,...`, the L610's
/// `AT+MQTTUSER=<id>,<user>,<pwd>,<client id>`), quoted or not (split by the simulator's own
/// splitter, so a quoted id keeps its commas).
pub fn client_id(line: &str) -> Option<String> {
    host_profiles()
        .flat_map(|p| p.client_ids)
        .find_map(|a| arg_at(line, a)?.get(a.index).map(Arg::text))
}

/// The user name and password a command line logs in with (`AT+MCONFIG`, `AT+MQTTUSER`).
pub fn login(line: &str) -> Option<(String, String)> {
    host_profiles().flat_map(|p| p.logins).find_map(|a| {
        let args = arg_at(line, a)?;
        Some((args.get(a.index)?.text(), args.get(a.index + 1)?.text()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(user: Option<&str>) -> BrokerTarget {
        BrokerTarget {
            addr: HostPort {
                host: "10.1.2.3".into(),
                port: 18830,
            },
            user: user.map(String::from),
            password: user.map(|_| "pw,1".to_string()),
        }
    }

    #[test]
    fn hosts_are_rewritten_keeping_quotes() {
        let t = target(None);
        assert_eq!(
            rewrite("AT+MIPSTART=\"airtest.openluat.com\",\"1883\"", &t),
            "AT+MIPSTART=\"10.1.2.3\",\"18830\""
        );
        assert_eq!(
            rewrite("at+mipstart=mqtt.thingscloud.example,1883", &t),
            "at+mipstart=10.1.2.3,18830"
        );
        assert_eq!(
            rewrite(
                "AT+MQTTOPEN=1,\"g510.mqtt.iot.bj.baidubce.com\",1883,0,60",
                &t
            ),
            "AT+MQTTOPEN=1,\"10.1.2.3\",18830,0,60"
        );
        assert_eq!(
            rewrite("AT+MIPSTART=?", &t),
            "AT+MIPSTART=?",
            "too few arguments"
        );
        assert_eq!(
            rewrite("AT+MPUB=\"a,b\",0,0,\"x\"", &t),
            "AT+MPUB=\"a,b\",0,0,\"x\""
        );
    }

    #[test]
    fn credentials_only_when_given() {
        let line = "AT+MCONFIG=\"866289037465624\",\"user\",\"password\"";
        assert_eq!(rewrite(line, &target(None)), line);
        assert_eq!(
            rewrite(line, &target(Some("u"))),
            "AT+MCONFIG=\"866289037465624\",\"u\",\"pw,1\""
        );
        assert_eq!(
            rewrite(
                "AT+MCONFIG=868488076771714,root,luat123456,0,0,\"w\",\"m\"",
                &target(Some("u"))
            ),
            "AT+MCONFIG=868488076771714,u,\"pw,1\",0,0,\"w\",\"m\"",
            "a comma in a bare value is quoted"
        );
        assert_eq!(
            rewrite(
                "AT+MQTTUSER=1,\"g510/test1\",\"secret\"",
                &target(Some("u"))
            ),
            "AT+MQTTUSER=1,\"u\",\"pw,1\""
        );
        assert_eq!(
            rewrite("AT+MCONFIG=id", &target(Some("u"))),
            "AT+MCONFIG=id"
        );
    }

    /// Aliyun's client id holds commas inside its quotes
    /// (`<clientId>|securemode=3,signmethod=hmacsha1|`): they do not split it.
    #[test]
    fn quoted_commas_stay_in_their_argument() {
        let line =
            "AT+MCONFIG=\"a1b2|securemode=3,signmethod=hmacsha1|\",\"dev&a1b2\",\"0123abcd\"";
        assert_eq!(
            rewrite(line, &target(Some("u"))),
            "AT+MCONFIG=\"a1b2|securemode=3,signmethod=hmacsha1|\",\"u\",\"pw,1\""
        );
        assert_eq!(rewrite(line, &target(None)), line);
        // An unbalanced quote is not a command we can rewrite: sent as written.
        let bad = "AT+MIPSTART=\"host,1883";
        assert_eq!(rewrite(bad, &target(None)), bad);
    }

    #[test]
    fn client_ids_and_logins() {
        for (line, id) in [
            (
                "AT+MCONFIG=868488076771714,root,luat123456",
                Some("868488076771714"),
            ),
            (
                "at+mconfig=\"866289037465624\",\"user\",\"password\"",
                Some("866289037465624"),
            ),
            ("AT+MCONFIG=thingscloud,a,b", Some("thingscloud")),
            ("AT+MCONNECT=1,60", None),
            (
                "AT+MCONFIG=\"a1|securemode=3,signmethod=hmacsha1|\",u,p",
                Some("a1|securemode=3,signmethod=hmacsha1|"),
            ),
            ("AT+MQTTUSER=1,\"u\",\"p\",\"dev-7\"", Some("dev-7")),
            ("AT+MQTTUSER=1,\"u\",\"p\"", None),
        ] {
            assert_eq!(client_id(line).as_deref(), id, "{line}");
        }
        assert_eq!(
            login("AT+MQTTUSER=1,\"u\",\"p\""),
            Some(("u".to_string(), "p".to_string()))
        );
        assert_eq!(login("AT+MCONFIG=id"), None);
    }
}
