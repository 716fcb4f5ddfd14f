//! Step definitions, grouped by domain: the host's AT traffic ([`at`]), broker-side MQTT clients
//! ([`mqtt`]), injected faults ([`faults`]) and TLS set-ups and certificates ([`tls`]).
//!
//! Quoted payloads in steps take C-style escapes (`\r`, `\n`, `\t`, `\0`, `\"`, `\\`, `\xNN`),
//! so binary payloads can be written inline. AT command lines and doc strings are taken
//! literally (the dialect's own `\22` escapes pass through untouched).

pub mod at;
pub mod faults;
pub mod mqtt;
pub mod params;
pub mod payload;
pub mod tls;

use anyhow::{anyhow, Result};

pub use crate::engine::{duration, unescape};
use cucumber::gherkin::Step;

/// A step failure. It shows the whole chain of causes (`{:#}`): cucumber prints errors with
/// `Display`, which for `anyhow::Error` is only the outermost context.
pub struct Failure(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.into())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

/// What every step returns.
pub type StepResult = std::result::Result<(), Failure>;

/// `command` (which declares the length of `bytes`), the `>` prompt, `bytes`, `OK`: how every
/// length-form prompt command is driven (`AT+FSWRITE`, `AT+GTSSLFILE`, `AT+MPUBEX`, the L610's
/// `AT+MQTTPUB`).
pub(crate) async fn send_after_prompt(
    w: &mut crate::world::ModemWorld,
    command: &str,
    bytes: &[u8],
) -> Result<()> {
    w.send_command(command).await?;
    w.expect(">").await?;
    w.device()?.send_data(bytes).await?;
    w.expect("OK").await
}

/// The doc string of a step, without the line break Gherkin leaves at its start or end.
pub fn docstring(step: &Step) -> Result<String> {
    let d = step
        .docstring
        .as_deref()
        .ok_or_else(|| anyhow!("this step needs a doc string (\"\"\" ... \"\"\")"))?;
    let d = d.strip_prefix('\n').unwrap_or(d);
    let d = d.strip_suffix('\n').unwrap_or(d);
    Ok(d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape(r#"a\r\nb\"c\0\\\x41"#).unwrap(), b"a\r\nb\"c\0\\A");
        assert_eq!(unescape("数据").unwrap(), "数据".as_bytes());
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\xZZ").is_err());
    }
}
