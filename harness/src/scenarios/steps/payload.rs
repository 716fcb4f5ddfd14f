//! Binary payloads through every prompt, checked byte for byte where they end up: at the
//! broker (`AT+MPUBEX`, the L610's length form of `AT+MQTTPUB`) or read back from the file
//! (`AT+FSWRITE`, then `AT+FSREAD`). Drivers send binary records this way, and the issue-10
//! bug (the LF of a CR LF line end taken as the first payload byte) corrupted every one of
//! them; the test suite runs these scenarios under every line end ([`crate::device::Eol`]).
//!
//! The payload is "random" but fixed: every byte value equally often (NUL, CR, LF, `>`, 0x1A,
//! 0xFF...), shuffled with a fixed seed, and its first byte is an LF when the host ends its
//! lines with CR LF or LF: the module keeps a payload's first LF then. After a CR-only line it
//! swallows it (the V1.6.7 manual, fixtures/DIVERGENCES.md A23), so under `cr` the LF is the
//! second byte.

use anyhow::anyhow;
use cucumber::{then, when};

use super::params::{Qos, Quoted};
use super::{send_after_prompt, StepResult};
use crate::device::{show, Eol};
use crate::world::ModemWorld;

/// `n` bytes: each value 0..=255 as often as `n` allows, shuffled (xorshift64, fixed seed),
/// an LF first (second after a CR-only line end, see the module doc).
pub fn random_payload(n: usize, eol: Eol) -> Vec<u8> {
    let mut v: Vec<u8> = (0..n).map(|i| (i % 256) as u8).collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ n as u64;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    if let Some(lf) = v.iter().position(|&b| b == b'\n') {
        v.swap(0, lf);
    }
    if eol == Eol::Cr && v.len() > 1 {
        v.swap(0, 1);
    }
    v
}

/// Where two byte strings first differ, for failure messages.
pub(crate) fn first_difference(want: &[u8], got: &[u8]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    format!(
        "{} bytes expected, {} came; first difference at byte {at}: expected {:?}, got {:?}",
        want.len(),
        got.len(),
        show(&want[at..(at + 16).min(want.len())]),
        show(&got[at.min(got.len())..(at + 16).min(got.len())])
    )
}

/// `command` (which declares `n` bytes), the `>` prompt, `n` random bytes, `OK`.
async fn random_after_prompt(w: &mut ModemWorld, command: String, n: usize) -> StepResult {
    let payload = random_payload(n, w.eol);
    send_after_prompt(w, &command, &payload).await?;
    w.payload = payload;
    Ok(())
}

/// `AT+MPUBEX=<topic>,<qos>,0,<n>`, the `>` prompt, `n` random bytes, `OK`.
#[when(expr = "the host publishes {int} random bytes with AT+MPUBEX to {quoted} at QoS {qos}")]
async fn mpubex_random(w: &mut ModemWorld, n: usize, topic: Quoted, qos: Qos) -> StepResult {
    let command = format!("AT+MPUBEX=\"{}\",{},0,{n}", topic.0, qos.0);
    random_after_prompt(w, command, n).await
}

/// The L610's length form: `AT+MQTTPUB=1,<topic>,<qos>,0,<n>`, `>`, `n` random bytes, `OK`.
#[when(expr = "the host publishes {int} random bytes with AT+MQTTPUB to {quoted} at QoS {qos}")]
async fn mqttpub_random(w: &mut ModemWorld, n: usize, topic: Quoted, qos: Qos) -> StepResult {
    let command = format!("AT+MQTTPUB=1,\"{}\",{},0,{n}", topic.0, qos.0);
    random_after_prompt(w, command, n).await
}

/// `AT+FSWRITE=<name>,0,<n>,15`, `>`, `n` random bytes, `OK`.
#[when(expr = "the host writes {int} random bytes into {quoted} with AT+FSWRITE")]
async fn fswrite_random(w: &mut ModemWorld, n: usize, name: Quoted) -> StepResult {
    let command = format!("AT+FSWRITE=\"{}\",0,{n},15", name.0);
    random_after_prompt(w, command, n).await
}

/// The broker-side client got the random payload, byte for byte.
#[then(expr = "client {quoted} receives the random bytes on {quoted}")]
async fn receives_random(w: &mut ModemWorld, name: Quoted, topic: Quoted) -> StepResult {
    let (name, topic) = (name.0, topic.0);
    let payload = w.payload.clone();
    if payload.is_empty() {
        return Err(anyhow!("no random payload was sent before this step").into());
    }
    let t = w.timeout;
    match w.client(&name)?.receive(&topic, &payload, t).await {
        Ok(_) => {
            w.transcript.mqtt(
                &name,
                format!("received the {} random bytes on {topic:?}", payload.len()),
            );
            Ok(())
        }
        Err(e) => {
            let seen = w.client(&name)?.seen_on(&topic);
            Err(match seen.first() {
                Some(got) => anyhow!(
                    "{name:?} received on {topic:?} other bytes than were sent: {}",
                    first_difference(&payload, got)
                ),
                None => e.context(format!(
                    "{name:?} did not receive the random bytes on {topic:?}"
                )),
            }
            .into())
        }
    }
}

/// `AT+FSREAD=<name>,0,<n>,0` prints CR LF, the file's bytes, CR LF, then `OK` (the manual's
/// file-system chapter; sim/src/dialect/air780e/fs.rs): exactly the random bytes must come.
#[then(expr = "AT+FSREAD of {quoted} gives the random bytes")]
async fn fsread_random(w: &mut ModemWorld, name: Quoted) -> StepResult {
    let name = name.0;
    let payload = w.payload.clone();
    if payload.is_empty() {
        return Err(anyhow!("no random payload was written before this step").into());
    }
    w.send_command(&format!("AT+FSREAD=\"{name}\",0,{},0", payload.len()))
        .await?;
    let mut framed = b"\r\n".to_vec();
    framed.extend_from_slice(&payload);
    framed.extend_from_slice(b"\r\n\r\nOK\r\n");
    let deadline = tokio::time::Instant::now() + w.timeout;
    if let Err(got) = w.device()?.expect_raw(&framed, deadline).await? {
        // The data starts after the first CR LF (echo off) or the second (echo on).
        let start = got
            .windows(2)
            .position(|p| p == b"\r\n")
            .map_or(0, |i| i + 2);
        return Err(anyhow!(
            "AT+FSREAD of {name:?} did not give the {} bytes written: {}",
            payload.len(),
            first_difference(&payload, &got[start..])
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_random_payload_has_every_byte_and_starts_with_lf() {
        let p = random_payload(2048, Eol::Crlf);
        assert_eq!(p.len(), 2048);
        assert_eq!(p[0], b'\n');
        for b in 0..=255u8 {
            assert_eq!(p.iter().filter(|&&x| x == b).count(), 8, "{b}");
        }
        assert_eq!(p, random_payload(2048, Eol::Lf), "fixed");
        let cr = random_payload(2048, Eol::Cr);
        assert_ne!(cr[0], b'\n');
        assert_eq!(cr[1], b'\n');
        assert_ne!(
            p[..64],
            random_payload(1024, Eol::Crlf)[..64],
            "another length, another order"
        );
    }
}
