//! The steps' parameter types, for the arguments steps repeat: `{payload}` (a quoted payload
//! with C escapes), `{quoted}` (a quoted name, taken as written) and `{qos}` (0, 1 or 2).

use std::str::FromStr;

use cucumber::Parameter;

/// `"..."` with C-style escapes (`\r`, `\n`, `\t`, `\0`, `\"`, `\\`, `\xNN`), decoded.
#[derive(Debug, Clone, PartialEq, Eq, Parameter)]
#[param(name = "payload", regex = r#""((?:[^"\\]|\\.)*)""#)]
pub struct Payload(pub Vec<u8>);

impl FromStr for Payload {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // An empty group reaches us as the whole match.
        let s = if s == "\"\"" { "" } else { s };
        crate::engine::unescape(s).map(Payload)
    }
}

/// `"..."`, not empty: a topic, a client or file name, taken as written.
#[derive(Debug, Clone, PartialEq, Eq, Parameter)]
#[param(name = "quoted", regex = r#""([^"]+)""#)]
pub struct Quoted(pub String);

impl FromStr for Quoted {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Quoted(s.to_string()))
    }
}

/// An MQTT QoS level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Parameter)]
#[param(name = "qos", regex = "[0-2]")]
pub struct Qos(pub u8);

impl FromStr for Qos {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Qos)
    }
}
