//! When a fault fires: now, after a delay, or on a protocol event of the modem's MQTT traffic;
//! the request's text form (`<fault> [ARGS] [TRIGGER]`), and the bookkeeping of armed faults
//! that the modem task consults on each event.

use super::{secs, Fault, FaultParseError};
use crate::effect::Effect;

/// When a fault fires: now, after a delay, or on a protocol event of the modem's MQTT
/// traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Now,
    After(std::time::Duration),
    /// When the modem sends its Nth PUBLISH from now (1: the next one).
    OnPublish(u32),
    /// When the modem sends its next SUBSCRIBE.
    OnSubscribe,
    /// Right after the modem's next successful CONNACK is shown.
    OnConnack,
}

/// A fault and when it fires: the control protocol's request, `<fault> [ARGS] [TRIGGER]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub fault: Fault,
    pub trigger: Trigger,
}

/// The triggers, for error messages and `--help`.
pub const TRIGGERS: &[(&str, &str)] = &[
    ("(none)", "now"),
    ("after SECS", "after SECS seconds"),
    (
        "on publish [N]",
        "when the modem sends its Nth PUBLISH from now (default 1)",
    ),
    ("on subscribe", "when the modem sends its next SUBSCRIBE"),
    ("on connack", "right after the modem's next CONNACK"),
];

impl std::str::FromStr for Request {
    type Err = FaultParseError;
    fn from_str(s: &str) -> Result<Request, FaultParseError> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let bad = |reason: String| FaultParseError { reason };
        let at = words
            .iter()
            .position(|w| w.eq_ignore_ascii_case("after") || w.eq_ignore_ascii_case("on"));
        let (fault, trigger) = match at {
            Some(i) => words.split_at(i),
            None => (&words[..], &[][..]),
        };
        let fault: Fault = fault.join(" ").parse()?;
        let lower: Vec<String> = trigger.iter().map(|w| w.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        let trigger = match lower.as_slice() {
            [] => Trigger::Now,
            ["after", s] => Trigger::After(secs(s).map_err(bad)?),
            ["on", "publish"] => Trigger::OnPublish(1),
            ["on", "publish", n] => match n.parse::<u32>() {
                Ok(n @ 1..) => Trigger::OnPublish(n),
                _ => return Err(bad(format!("`on publish {n}`: N counts from 1"))),
            },
            ["on", "subscribe"] => Trigger::OnSubscribe,
            ["on", "connack"] => Trigger::OnConnack,
            _ => return Err(bad(format!("unknown trigger `{}`", trigger.join(" ")))),
        };
        Ok(Request { fault, trigger })
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.fault)?;
        match &self.trigger {
            Trigger::Now => Ok(()),
            Trigger::After(d) => write!(f, " after {}", d.as_secs_f64()),
            Trigger::OnPublish(n) => write!(f, " on publish {n}"),
            Trigger::OnSubscribe => f.write_str(" on subscribe"),
            Trigger::OnConnack => f.write_str(" on connack"),
        }
    }
}

/// The faults a modem has armed for protocol events.
#[derive(Debug, Default)]
pub(crate) struct Armed(Vec<(Trigger, Fault)>);

impl Armed {
    pub(crate) fn arm(&mut self, trigger: Trigger, fault: Fault) {
        self.0.push((trigger, fault));
    }

    /// Removes and returns the armed faults whose trigger matches.
    fn take(&mut self, hit: impl Fn(&Trigger) -> bool) -> Vec<Fault> {
        let (due, keep): (Vec<_>, Vec<_>) = self.0.drain(..).partition(|(t, _)| hit(t));
        self.0 = keep;
        due.into_iter().map(|(_, f)| f).collect()
    }

    /// The faults that fire right after a successful CONNACK is shown.
    pub(crate) fn on_connack(&mut self) -> Vec<Fault> {
        self.take(|t| *t == Trigger::OnConnack)
    }

    /// The armed faults that the modem's requests in `effects` set off (PUBLISH counts down,
    /// SUBSCRIBE fires).
    pub(crate) fn on_requests(&mut self, effects: &[Effect]) -> Vec<Fault> {
        use crate::net::{MqttOp, NetRequest};
        let mut due = Vec::new();
        if self.0.is_empty() {
            return due;
        }
        for e in effects {
            match e {
                Effect::Net(NetRequest::Mqtt {
                    op: MqttOp::Publish { .. },
                    ..
                }) => {
                    for (t, _) in self.0.iter_mut() {
                        if let Trigger::OnPublish(n) = t {
                            *n = n.saturating_sub(1);
                        }
                    }
                    due.extend(self.take(|t| *t == Trigger::OnPublish(0)));
                }
                Effect::Net(NetRequest::Mqtt {
                    op: MqttOp::Subscribe(_),
                    ..
                }) => due.extend(self.take(|t| *t == Trigger::OnSubscribe)),
                _ => {}
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Closed, Reset, Signal};

    #[test]
    fn publish_triggers_count_down_and_subscribe_fires_once() {
        use crate::net::{MqttOp, NetRequest, QoS};
        let publish = Effect::Net(NetRequest::Mqtt {
            link: 1,
            op: MqttOp::Publish {
                topic: "t".into(),
                qos: QoS::AtMostOnce,
                retain: false,
                payload: bytes::Bytes::new(),
            },
        });
        let subscribe = Effect::Net(NetRequest::Mqtt {
            link: 1,
            op: MqttOp::Subscribe(vec![("t".into(), QoS::AtMostOnce)]),
        });
        let mut armed = Armed::default();
        armed.arm(Trigger::OnPublish(2), Closed.into());
        armed.arm(Trigger::OnSubscribe, Reset.into());
        armed.arm(Trigger::OnConnack, Signal(1).into());
        assert_eq!(armed.on_requests(std::slice::from_ref(&publish)), vec![]);
        assert_eq!(
            armed.on_requests(std::slice::from_ref(&subscribe)),
            vec![Fault::Reset(Reset)]
        );
        assert_eq!(armed.on_requests(&[subscribe]), vec![]);
        assert_eq!(
            armed.on_requests(std::slice::from_ref(&publish)),
            vec![Fault::Closed(Closed)]
        );
        assert_eq!(armed.on_requests(&[publish]), vec![]);
        assert_eq!(armed.on_connack(), vec![Fault::Signal(Signal(1))]);
        assert!(armed.0.is_empty());
    }
}
