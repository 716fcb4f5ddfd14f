//! The log engine and what every product of the harness stands on: the one vendor-log parser
//! ([`log`]), the one executor with its URC window ([`exec`]), the one [`target`] (a simulator
//! in process, or a device on a port), the module's UART as a byte stream ([`device`]), the one
//! line matcher ([`pattern`]), broker-side clients ([`mqtt`]), models and firmware
//! ([`model`]) and the rewriting of command lines for an external broker ([`rewrite`]).

pub mod device;
pub mod exec;
pub mod log;
pub mod model;
pub mod mqtt;
pub mod pattern;
pub mod rewrite;
pub mod target;

use anyhow::{anyhow, bail, Result};

/// Decodes the C-style escapes of a quoted step argument.
pub fn unescape(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('"') => out.push(b'"'),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let b = u8::from_str_radix(&hex, 16)
                    .map_err(|_| anyhow!("bad escape \\x{hex} in {s:?}"))?;
                out.push(b);
            }
            other => bail!(
                "unknown escape \\{} in {s:?}",
                other.map(String::from).unwrap_or_default()
            ),
        }
    }
    Ok(out)
}

/// A duration as the steps write it: `300 ms`, `5 s`, `5 seconds`, `1 second`.
pub fn duration(n: u64, unit: &str) -> std::time::Duration {
    if unit.starts_with("ms") || unit.starts_with("milli") {
        std::time::Duration::from_millis(n)
    } else {
        std::time::Duration::from_secs(n)
    }
}
