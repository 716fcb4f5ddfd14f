//! A reference driver that pipelines: the echo contract of `echo_driver` on an Air780E, but
//! it writes the next command without waiting for the previous one's `OK` or for URCs,
//! wherever the module takes it (the UART buffers what it has not read; the module answers
//! each command in turn):
//!
//! - the set-up in one write: `ATE0`, `AT+MIPCLOSE` (whatever it answers), `AT+MCONFIG`,
//!   `AT+MIPSTART`, then it counts the four final results and waits for `CONNECT OK`;
//! - `AT+MSUB` and `AT+MQTTSTATU` in one write once `CONNACK OK` came;
//! - every message waiting is echoed at once: all but the last as `AT+MPUB` lines with `\XX`
//!   escapes (seed 000 FAQ 12) in one write, the last with `AT+MPUBEX`, and right behind its
//!   payload, in the same write, `AT+MQTTSTATU`, so the module must end the payload after
//!   exactly `<len>` bytes and take what follows as the next command.
//!
//! Not pipelined, because the module refuses them meanwhile: `AT+MCONNECT` before `CONNECT OK`
//! and `AT+MSUB` before `CONNACK OK` (`+CME ERROR: 767`), and a payload before `>`.
//! Lines end with `MODEM_EOL` (or `--eol cr|crlf|lf`; CR LF by default).
//!
//! Run: `modem-harness check-driver -- target/debug/examples/pipelining_driver`

mod common;

use std::time::Duration;

use common::{is_final, open_modem, still_up, subscribed, Config, Lost, Modem};

const NAME: &str = "pipelining-driver";

/// Waits for `n` final results; `Err` if one is not `OK`, or on a loss. Lines `keep` accepts
/// (e.g. `+MQTTSTATU :1`) are returned.
fn finals(m: &mut Modem, n: usize, keep: impl Fn(&str) -> bool) -> Result<Vec<String>, Lost> {
    let mut kept = Vec::new();
    let mut bad = None;
    for _ in 0..n {
        let r = m.wait(Duration::from_secs(10), |l| is_final(l) || keep(l))?;
        if keep(&r) && !is_final(&r) {
            kept.push(r);
            // Its own final result is still to come.
            let r = m.wait(Duration::from_secs(10), is_final)?;
            if r != "OK" {
                bad.get_or_insert(r);
            }
        } else if r != "OK" {
            bad.get_or_insert(r);
        }
    }
    match bad {
        Some(r) => Err(Lost(r)),
        None => Ok(kept),
    }
}

fn connect(m: &mut Modem, c: &Config) -> Result<(), Lost> {
    m.lost = None;
    m.send_lines(&[
        "ATE0",
        "AT+MIPCLOSE",
        &format!("AT+MCONFIG=\"{NAME}\",\"{}\",\"{}\"", c.user, c.password),
        &format!("AT+MIPSTART=\"{}\",{}", c.host, c.port),
    ]);
    // ATE0 and AT+MIPCLOSE may answer anything (767 after a passive close); MCONFIG and
    // MIPSTART must say OK.
    let mut results = Vec::new();
    for _ in 0..4 {
        results.push(m.wait(Duration::from_secs(10), is_final)?);
    }
    if results[2..].iter().any(|r| r != "OK") {
        return Err(Lost(format!("set-up answered {results:?}")));
    }
    let r = m.wait(Duration::from_secs(15), |l| {
        l == "CONNECT OK" || l == "CONNECT FAIL" || l == "ALREADY CONNECT"
    })?;
    if r != "CONNECT OK" {
        return Err(Lost(r));
    }
    m.lost = None;
    m.send_lines(&["AT+MCONNECT=1,30"]);
    finals(m, 1, |_| false)?;
    m.wait(Duration::from_secs(15), |l| {
        l == "CONNACK OK" || l == "CLOSED"
    })
    .and_then(|l| if l == "CLOSED" { Err(Lost(l)) } else { Ok(l) })?;
    m.send_lines(&[&format!("AT+MSUB=\"{}\",1", c.topic_in), "AT+MQTTSTATU"]);
    let status = finals(m, 2, |l| l.starts_with("+MQTTSTATU"))?;
    if status.first().map(String::as_str) != Some("+MQTTSTATU :1") {
        return Err(Lost(format!("status {status:?}")));
    }
    m.wait(Duration::from_secs(15), |l| l == "SUBACK" || l == "CLOSED")
        .and_then(|l| if l == "CLOSED" { Err(Lost(l)) } else { Ok(l) })?;
    match m.lost.take() {
        Some(l) => Err(Lost(l)),
        None => Ok(()),
    }
}

/// A payload as an `AT+MPUB` string: `"`, `,`, `\` and every byte outside printable ASCII
/// as `\XX` (seed 000 FAQ 12's escapes, decoded by the module).
fn escaped(payload: &[u8]) -> String {
    let mut s = String::new();
    for &b in payload {
        if b == b'"' || b == b',' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            s.push_str(&format!("\\{b:02X}"));
        } else {
            s.push(b as char);
        }
    }
    s
}

/// Echoes every message waiting, pipelined (see the module doc).
fn echo_all(m: &mut Modem, c: &Config) -> Result<(), Lost> {
    let batch: Vec<Vec<u8>> = m.inbox.drain(..).map(|i| i.payload).collect();
    let Some((last, first)) = batch.split_last() else {
        return Ok(());
    };
    let mut lines: Vec<String> = first
        .iter()
        .map(|p| format!("AT+MPUB=\"{}\",0,0,\"{}\"", c.topic_out, escaped(p)))
        .collect();
    lines.push(format!("AT+MPUBEX=\"{}\",0,0,{}", c.topic_out, last.len()));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    m.send_lines(&refs);
    // The MPUB lines' OKs come before the prompt.
    finals(m, first.len(), |_| false)?;
    m.wait_prompt(Duration::from_secs(10))?;
    let mut bytes = last.clone();
    bytes.extend_from_slice(b"AT+MQTTSTATU");
    bytes.extend_from_slice(&m.eol.clone());
    m.send(&bytes);
    let status = finals(m, 2, |l| l.starts_with("+MQTTSTATU"))?;
    if status.first().map(String::as_str) != Some("+MQTTSTATU :1") {
        return Err(Lost(format!("status {status:?}")));
    }
    Ok(())
}

fn main() {
    let c = Config::from_env();
    let mut m = open_modem(NAME);
    loop {
        if !subscribed(NAME, connect(&mut m, &c)) {
            continue;
        }
        loop {
            if let Err(Lost(why)) = echo_all(&mut m, &c) {
                m.lost = Some(why);
            }
            if !still_up(&mut m, NAME) {
                break;
            }
        }
    }
}
