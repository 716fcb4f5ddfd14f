//! Raw sockets through the module (issue 16 item 6): the host sends bytes on a socket the way
//! drivers do (the L610's `AT+MIPSEND=<id>,<len>`, at most 2048 bytes a time, as the public L610
//! drivers cut them), and checks, byte for byte, what comes back from the server the socket
//! goes to (the embedded TCP/UDP echo service unless `--resolve` says otherwise).
//!
//! Received data is read from the module's lines as the default `AT+GTSET="IPRFMT",0` prints
//! it: `+MIPRTCP: <id>,<len>,<hex>` and `+MIPRUDP: <ip>,<port>,<id>,<len>,<hex>`
//! (fixtures/DIVERGENCES.md L31). While a step waits for one answer, data lines for any socket
//! are kept ([`SocketRx`]) for the step that checks them.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use cucumber::{then, when};

use super::payload::first_difference;
use super::payload::random_payload;
use super::{unescape, StepResult};
use crate::device::{show, Item};
use crate::transcript::from_hex;
use crate::world::ModemWorld;

/// The most one `AT+MIPSEND` carries (fixtures/DIVERGENCES.md L30).
pub const MIPSEND_MAX: usize = 2048;

/// Data the module printed for each socket id, not yet checked by a step.
#[derive(Debug, Default, Clone)]
pub struct SocketRx {
    pub data: BTreeMap<u32, Vec<u8>>,
}

/// `(socket id, data)` of a `+MIPRTCP: <id>,<len>,<hex>` or `+MIPRUDP: <ip>,<port>,<id>,<len>,
/// <hex>` line; `Err` for such a line that does not add up (its length and its data differ).
pub fn socket_data(line: &[u8]) -> Option<Result<(u32, Vec<u8>)>> {
    let text = std::str::from_utf8(line).ok()?;
    let fields: Vec<&str> = if let Some(rest) = text.strip_prefix("+MIPRTCP: ") {
        rest.splitn(3, ',').collect()
    } else if let Some(rest) = text.strip_prefix("+MIPRUDP: ") {
        rest.splitn(5, ',').skip(2).collect()
    } else {
        return None;
    };
    let [id, len, hex] = fields.as_slice() else {
        return Some(Err(anyhow!(
            "a data line without its three fields: {text:?}"
        )));
    };
    let parsed = (id.parse::<u32>(), len.parse::<usize>(), from_hex(hex));
    Some(match parsed {
        (Ok(id), Ok(len), Some(data)) if data.len() == len => Ok((id, data)),
        _ => Err(anyhow!(
            "a data line whose length and data differ: {text:?}"
        )),
    })
}

/// The next line the module printed (or `>`); a data line is kept for later and seen as an
/// empty line. `None`: nothing before the scenario's timeout.
async fn next_line(w: &mut ModemWorld) -> Result<Option<String>> {
    let deadline = tokio::time::Instant::now() + w.timeout;
    let item = w.device()?.next_answer(deadline).await?;
    Ok(match item {
        None => None,
        Some(Item::Prompt) => Some(">".into()),
        Some(Item::Line(l)) => match socket_data(&l) {
            Some(data) => {
                let (id, data) = data?;
                w.sockets.data.entry(id).or_default().extend(data);
                // Kept; the caller sees an empty line and looks again.
                Some(String::new())
            }
            None => Some(show(&l)),
        },
    })
}

/// Waits for a line `want` accepts. An error result, or the socket breaking, fails the step;
/// other lines (URCs of other things) pass.
async fn wait_for(w: &mut ModemWorld, what: &str, want: impl Fn(&str) -> bool) -> Result<()> {
    loop {
        let Some(line) = next_line(w).await? else {
            let t = w.timeout;
            let said = w.device()?.said_since_send();
            bail!("waited {t:?} for {what}; the module said: {said}");
        };
        if want(&line) {
            return Ok(());
        }
        if line == "ERROR" || line.starts_with("+CME ERROR") || line.starts_with("+MIPSTAT:") {
            bail!("waiting for {what}, the module said {line:?}");
        }
    }
}

/// `AT+MIPSEND=<id>,<len>`, the `>`, the bytes, then `+MIPSEND: <id>,0,<free>`, `OK` and
/// `+MIPPUSH: <id>,0` (fixtures/DIVERGENCES.md L30).
async fn mipsend(w: &mut ModemWorld, id: u32, data: &[u8]) -> Result<()> {
    for chunk in data.chunks(MIPSEND_MAX) {
        w.send_command(&format!("AT+MIPSEND={id},{}", chunk.len()))
            .await?;
        wait_for(w, "the > prompt", |l| l == ">").await?;
        w.device()?.send_data(chunk).await?;
        let sent = format!("+MIPSEND: {id},0,");
        wait_for(w, &sent, |l| l.starts_with(&sent)).await?;
        wait_for(w, "OK", |l| l == "OK").await?;
        let pushed = format!("+MIPPUSH: {id},0");
        wait_for(w, &pushed, |l| l == pushed).await?;
    }
    w.transcript
        .mqtt("host", format!("sent {} bytes on socket {id}", data.len()));
    Ok(())
}

/// `n` random bytes of every value (see [`random_payload`]) sent on socket `id`; kept for the
/// step that checks them.
#[when(regex = r"^the host sends (\d+) random bytes on socket (\d) with AT\+MIPSEND$")]
async fn send_random(w: &mut ModemWorld, n: usize, id: u32) -> StepResult {
    let payload = random_payload(n, w.eol);
    mipsend(w, id, &payload).await?;
    w.payload = payload;
    Ok(())
}

/// The quoted bytes (C escapes: `\r`, `\n`, `\0`, `\xNN`) sent on socket `id`.
#[when(regex = r#"^the host sends "((?:[^"\\]|\\.)*)" on socket (\d) with AT\+MIPSEND$"#)]
async fn send_bytes(w: &mut ModemWorld, data: String, id: u32) -> StepResult {
    let data = unescape(&data)?;
    mipsend(w, id, &data).await?;
    Ok(())
}

/// Waits until socket `id` has received `want.len()` bytes; they must be `want`, exactly.
async fn receive(w: &mut ModemWorld, id: u32, want: &[u8]) -> Result<()> {
    loop {
        let have = w.sockets.data.get(&id).map_or(0, Vec::len);
        if have >= want.len() {
            break;
        }
        match next_line(w).await? {
            Some(l) if l.starts_with(&format!("+MIPSTAT: {id},")) => {
                bail!(
                    "socket {id} broke ({l}) after {have} of {} bytes",
                    want.len()
                )
            }
            Some(_) => {}
            None => bail!(
                "socket {id} received {have} of {} bytes in {:?}",
                want.len(),
                w.timeout
            ),
        }
    }
    let got = w.sockets.data.remove(&id).unwrap_or_default();
    if got != want {
        bail!("socket {id}: {}", first_difference(want, &got));
    }
    w.transcript.mqtt(
        "host",
        format!("received {} bytes on socket {id}", got.len()),
    );
    Ok(())
}

#[then(regex = r"^the host receives the random bytes back on socket (\d)$")]
async fn receive_random(w: &mut ModemWorld, id: u32) -> StepResult {
    let payload = w.payload.clone();
    if payload.is_empty() {
        return Err(anyhow!("no random payload was sent before this step").into());
    }
    receive(w, id, &payload).await?;
    Ok(())
}

#[then(regex = r#"^socket (\d) receives "((?:[^"\\]|\\.)*)"$"#)]
async fn receive_bytes(w: &mut ModemWorld, id: u32, data: String) -> StepResult {
    let data = unescape(&data)?;
    receive(w, id, &data).await?;
    Ok(())
}

/// The module prints `line` (a pattern: `{}` matches a field), data lines and other URCs
/// before it passing.
#[then(regex = r#"^the modem says "(.*)" after the socket data$"#)]
async fn says_after_data(w: &mut ModemWorld, line: String) -> StepResult {
    wait_for(w, &line, |l| crate::pattern::matches(&line, l.as_bytes())).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_lines_decode_and_check_their_length() {
        assert_eq!(
            socket_data(b"+MIPRTCP: 1,4,001A4F4B").unwrap().unwrap(),
            (1, vec![0, 0x1a, b'O', b'K'])
        );
        assert_eq!(
            socket_data(b"+MIPRUDP: 127.0.0.1,9000,3,2,0D0A")
                .unwrap()
                .unwrap(),
            (3, b"\r\n".to_vec())
        );
        assert!(socket_data(b"+MIPRTCP: 1,5,001A4F4B").unwrap().is_err());
        assert!(socket_data(b"+MIPRTCP: 1,1,0").unwrap().is_err());
        assert!(socket_data(b"+MIPOPEN: 1,1").is_none());
    }
}
